#include "report/baseline.h"

#include <algorithm>
#include <map>

#include "core/fs_util.h"

namespace xrun {

namespace {

using Key = std::pair<std::string, std::string>;

Key key_of(const TestResult& t) { return {comparable_binary_name(t.binary), t.name}; }

ComparedTest compared(const TestResult* now, const TestResult* before) {
  const TestResult& either = now ? *now : *before;
  ComparedTest c;
  c.binary = either.binary;
  c.name = either.name;
  if (now) c.status = std::string(status_name(now->status)), c.seconds = now->duration_seconds;
  if (before) c.before = std::string(status_name(before->status)), c.before_seconds = before->duration_seconds;
  return c;
}

bool ran(Status status) { return status != Status::NotRun && status != Status::Skipped; }

}  // namespace

bool fails_for_comparison(Status status) { return is_test_failure(status) || status == Status::InfraError; }

std::string comparable_binary_name(const std::string& binary) {
  std::string name = binary.substr(binary.rfind('/') + 1);
  const auto dash = name.rfind('-');
  if (dash != std::string::npos && name.size() - dash - 1 == 16 &&
      name.find_first_not_of("0123456789abcdef", dash + 1) == std::string::npos)
    name.erase(dash);
  return name;
}

BaselineComparison compare_with_baseline(const std::vector<TestResult>& now, const RunReport& baseline,
                                         const std::string& source, SlowdownRule rule) {
  BaselineComparison c;
  c.source = source;
  c.started_at = baseline.started_at;
  c.slowdown = rule.share;
  c.slowdown_floor_seconds = rule.floor_seconds;
  std::map<Key, const TestResult*> before;
  for (const auto& t : baseline.tests) before.emplace(key_of(t), &t);  // the first of duplicates
  std::map<Key, bool> seen;
  for (const auto& t : now) {
    const Key key = key_of(t);
    if (!seen.emplace(key, true).second) continue;
    auto it = before.find(key);
    const TestResult* old = it == before.end() ? nullptr : it->second;
    if (!old) c.new_tests.push_back(compared(&t, nullptr));
    const bool failing = fails_for_comparison(t.status);
    const bool failed_before = old && fails_for_comparison(old->status);
    if (failing && !failed_before)
      c.new_failures.push_back(compared(&t, old));
    else if (failing)
      c.still_failing.push_back(compared(&t, old));
    else if (failed_before && ran(t.status))
      c.fixed.push_back(compared(&t, old));
    // Only tests that passed both times: a failure's duration says little.
    if (old && !failing && ran(t.status) && !failed_before && ran(old->status) &&
        t.duration_seconds > old->duration_seconds * (1 + rule.share) &&
        t.duration_seconds - old->duration_seconds > rule.floor_seconds)
      c.slower.push_back(compared(&t, old));
  }
  for (const auto& t : baseline.tests)
    if (!seen.count(key_of(t))) {
      seen.emplace(key_of(t), true);
      c.removed_tests.push_back(compared(nullptr, &t));
    }
  // The biggest slowdowns first.
  std::stable_sort(c.slower.begin(), c.slower.end(), [](const ComparedTest& a, const ComparedTest& b) {
    return a.seconds - a.before_seconds > b.seconds - b.before_seconds;
  });
  return c;
}

Expected<RunReport> read_baseline(const std::string& path) {
  auto text = read_file(path);
  if (!text) return make_error(ExitCode::Usage, "--baseline " + path + ": cannot read the report");
  auto report = report_from_json(*text, path);
  if (!report) return make_error(ExitCode::Usage, "--baseline " + report.error().message);
  return report;
}

}  // namespace xrun
