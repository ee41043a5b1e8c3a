#include "engine/unit_plan.h"

#include <algorithm>
#include <map>

#include "engine/harness_stream.h"
#include "engine/selection.h"

namespace xrun {

std::optional<std::size_t> group_of(const TestCase& test, const std::vector<TestGroupRule>& groups) {
  const std::string file = test.binary.substr(test.binary.rfind('/') + 1);
  const auto any = [](const std::vector<std::string>& patterns, const std::string& text) {
    return patterns.empty() ||
           std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return glob_match(p, text); });
  };
  for (std::size_t i = 0; i < groups.size(); ++i)
    if (any(groups[i].binaries, file) && any(groups[i].filter, test.name)) return i;
  return std::nullopt;
}

UnitPlan plan_units(const std::vector<TestCase>& tests, Isolation isolation, int jobs,
                    const std::vector<TestGroupRule>& groups) {
  UnitPlan plan;
  plan.group_of_test.reserve(tests.size());
  for (const auto& test : tests) plan.group_of_test.push_back(group_of(test, groups));
  // Group by binary (and what it runs with, and its test group), keeping
  // the plan's order.
  std::vector<std::vector<std::size_t>> shards_of;
  std::map<std::string, std::size_t> shard_index;
  for (std::size_t index = 0; index < tests.size(); ++index) {
    const TestCase& tc = tests[index];
    if (tc.skip_reason) continue;
    const auto group = plan.group_of_test[index];
    if (tc.kind == TestKind::Plain || isolation == Isolation::Process) {
      plan.units.push_back(TestUnit{{index}, group});
      continue;
    }
    std::string key = tc.binary + '\0' + tc.cwd + '\0' + (group ? std::to_string(*group) : "-");
    for (const auto& e : tc.env) key += '\0' + e;
    auto [it, inserted] = shard_index.emplace(key, shards_of.size());
    if (inserted) shards_of.emplace_back();
    shards_of[it->second].push_back(index);
  }
  for (const auto& members : shards_of) {
    // Spread a binary over the job slots (no more than its group may run
    // at once); round-robin so that slow tests (often defined next to each
    // other) do not all land in one shard. The names go on the command
    // line (--gtest_filter, libtest filters): more, smaller shards keep
    // each under kMaxShardNameBytes.
    const auto group = plan.group_of_test[members.front()];
    std::size_t name_bytes = 0;
    for (std::size_t index : members) name_bytes += tests[index].name.size() + 1;
    const std::size_t by_size = (name_bytes + kMaxShardNameBytes - 1) / kMaxShardNameBytes;
    std::size_t slots = static_cast<std::size_t>(std::max(jobs, 1));
    if (group) slots = std::min(slots, static_cast<std::size_t>(groups[*group].max_jobs));
    const std::size_t shards = std::min<std::size_t>(std::max<std::size_t>(slots, by_size), members.size());
    std::vector<TestUnit> units(shards);
    for (std::size_t i = 0; i < members.size(); ++i) units[i % shards].tests.push_back(members[i]);
    for (auto& unit : units) {
      unit.group = group;
      plan.units.push_back(std::move(unit));
    }
  }
  return plan;
}

JobRequest unit_request(const std::vector<TestCase>& tests, const TestUnit& unit, const UnitRequestOptions& options) {
  const TestCase& first = tests[unit.tests.front()];
  std::vector<std::string> names;
  names.reserve(unit.tests.size());
  for (std::size_t index : unit.tests) names.push_back(tests[index].name);
  JobRequest request;
  request.program = first.binary;
  request.args = first.kind == TestKind::Plain ? first.args : harness_arguments(first.kind, names);
  request.cwd = first.cwd;
  request.extra_env = first.env;
  request.backend = first.backend;
  request.host_dirs = first.host_dirs;
  request.private_tmpdir =
      options.private_tmpdirs && std::none_of(first.env.begin(), first.env.end(), [](const std::string& e) {
        return e.rfind("TMPDIR=", 0) == 0;  // the test's own choice (CTest's ENVIRONMENT)
      });
  // A fork server is started with the arguments of a test of no name that
  // has room for any (zygote.c writes a child's arguments over them, for
  // programs that read them at start): they run no test if its library
  // does not load.
  static const std::string kNoTestWithRoom = "xrun-fork-server-runs-no-test-" + std::string(4096, 'x');
  request.fork_server = options.isolation == Isolation::Process && first.kind != TestKind::Plain && names.size() == 1 &&
                        names.front().size() <= kNoTestWithRoom.size();
  if (request.fork_server) request.fork_server_args = harness_arguments(first.kind, {kNoTestWithRoom});
  if (options.timeout_seconds) request.deadline_seconds = *options.timeout_seconds + options.grace_seconds;
  return request;
}

}  // namespace xrun
