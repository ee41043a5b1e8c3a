// Which processes `xrun test` starts, as tables: each row the tests and the
// options, the units planned (by the tests' names), and a name.
#include "engine/unit_plan.h"

#include <gtest/gtest.h>

#include <set>

#include "backends/registry.h"
#include "engine/selection.h"

namespace xrun {
namespace {

// Each row's test is named after the row.
struct CaseName {
  template <typename Row>
  std::string operator()(const ::testing::TestParamInfo<Row>& row) const {
    return row.param.name;
  }
};

TestCase gtest(std::string name, std::string binary = "/build/suite_tests") {
  TestCase test;
  test.binary = std::move(binary);
  test.name = std::move(name);
  test.kind = TestKind::GTest;
  return test;
}

TestCase plain(std::string name, std::vector<std::string> args = {}) {
  TestCase test;
  test.binary = "/build/" + name;
  test.name = std::move(name);
  test.args = std::move(args);
  return test;
}

TestCase skipped(TestCase test) {
  test.skip_reason = "disabled";
  return test;
}

TestCase with_env(TestCase test, std::string env) {
  test.env.push_back(std::move(env));
  return test;
}

TestCase in_dir(TestCase test, std::string cwd) {
  test.cwd = std::move(cwd);
  return test;
}

// "a b c" for a unit of those tests, with " |serial" for its group.
std::vector<std::string> describe(const UnitPlan& plan, const std::vector<TestCase>& tests,
                                  const std::vector<TestGroupRule>& groups) {
  std::vector<std::string> out;
  for (const auto& unit : plan.units) {
    std::string text;
    for (std::size_t index : unit.tests) text += (text.empty() ? "" : " ") + tests[index].name;
    if (unit.group) text += " |" + groups[*unit.group].name;
    out.push_back(text);
  }
  return out;
}

struct PlanCase {
  std::string name;
  std::vector<TestCase> tests;
  Isolation isolation;
  int jobs;
  std::vector<TestGroupRule> groups;
  std::vector<std::string> expected;
};

void PrintTo(const PlanCase& c, std::ostream* out) { *out << c.name; }

const TestGroupRule kSerial{"serial", {"*Serial*"}, {}, 1};
const TestGroupRule kPair{"pair", {"*Pair*"}, {}, 2};
const TestGroupRule kDatabase{"db", {}, {"db_*"}, 1};

const std::vector<PlanCase> kPlanCases = {
    {"ProcessIsolationGivesEachTestAUnitInPlanOrder",
     {gtest("A.a"), gtest("A.b"), gtest("A.c"), gtest("A.d")},
     Isolation::Process,
     2,
     {},
     {"A.a", "A.b", "A.c", "A.d"}},
    {"BatchSpreadsABinaryOverTheJobSlotsRoundRobin",
     {gtest("A.a"), gtest("A.b"), gtest("A.c"), gtest("A.d"), gtest("A.e")},
     Isolation::Batch,
     2,
     {},
     {"A.a A.c A.e", "A.b A.d"}},
    {"BatchMakesNoMoreShardsThanTests", {gtest("A.a"), gtest("A.b")}, Isolation::Batch, 8, {}, {"A.a", "A.b"}},
    {"BatchWithOneJobRunsABinaryInOneProcess",
     {gtest("A.a"), gtest("B.a", "/build/other_tests"), gtest("A.b"), gtest("B.b", "/build/other_tests")},
     Isolation::Batch,
     1,
     {},
     {"A.a A.b", "B.a B.b"}},
    {"ZeroJobsCountAsOne", {gtest("A.a"), gtest("A.b")}, Isolation::Batch, 0, {}, {"A.a A.b"}},
    {"PlainProgramsRunAloneAndFirst",
     {plain("p1"), gtest("A.a"), plain("p2"), gtest("A.b")},
     Isolation::Batch,
     1,
     {},
     {"p1", "p2", "A.a A.b"}},
    {"SkippedTestsGetNoUnit",
     {skipped(gtest("A.a")), gtest("A.b"), skipped(plain("p")), gtest("A.c")},
     Isolation::Batch,
     1,
     {},
     {"A.b A.c"}},
    {"SkippedTestsGetNoUnitInProcessIsolation",
     {skipped(gtest("A.a")), gtest("A.b")},
     Isolation::Process,
     1,
     {},
     {"A.b"}},
    {"AnotherEnvironmentIsAnotherShard",
     {gtest("A.a"), with_env(gtest("A.b"), "GTEST_FILTER=x"), gtest("A.c"), with_env(gtest("A.d"), "GTEST_FILTER=x")},
     Isolation::Batch,
     1,
     {},
     {"A.a A.c", "A.b A.d"}},
    {"AnotherWorkingDirectoryIsAnotherShard",
     {gtest("A.a"), in_dir(gtest("A.b"), "/tmp/elsewhere"), gtest("A.c")},
     Isolation::Batch,
     1,
     {},
     {"A.a A.c", "A.b"}},
    {"AGroupsTestsAreShardedApartFromTheRest",
     {gtest("A.x"), gtest("A.Serial1"), gtest("A.y"), gtest("A.Serial2")},
     Isolation::Batch,
     4,
     {kSerial},
     {"A.x", "A.y", "A.Serial1 A.Serial2 |serial"}},
    {"AGroupsMaxJobsBoundsItsShards",
     {gtest("A.Pair1"), gtest("A.Pair2"), gtest("A.Pair3"), gtest("A.Pair4"), gtest("A.Pair5")},
     Isolation::Batch,
     8,
     {kPair},
     {"A.Pair1 A.Pair3 A.Pair5 |pair", "A.Pair2 A.Pair4 |pair"}},
    {"TheJobsBoundAGroupWithMoreRoom",
     {gtest("A.Pair1"), gtest("A.Pair2"), gtest("A.Pair3")},
     Isolation::Batch,
     1,
     {kPair},
     {"A.Pair1 A.Pair2 A.Pair3 |pair"}},
    {"ProcessIsolationKeepsEachTestsGroup",
     {gtest("A.x"), gtest("A.Serial1")},
     Isolation::Process,
     4,
     {kSerial},
     {"A.x", "A.Serial1 |serial"}},
    {"APlainProgramInAGroupKeepsIt", {plain("db_check")}, Isolation::Batch, 4, {kDatabase}, {"db_check |db"}},
    {"GroupsMatchTheBinarysFileNameNotItsDirectory",
     {gtest("A.a", "/build/db_tests"), gtest("B.a", "/build/db_x/other_tests")},
     Isolation::Batch,
     4,
     {kDatabase},
     {"A.a |db", "B.a"}},
    {"TheFirstMatchingGroupWins",
     {gtest("A.Serial1", "/build/db_tests"), gtest("A.Serial2")},
     Isolation::Batch,
     4,
     {kSerial, kDatabase},
     {"A.Serial1 |serial", "A.Serial2 |serial"}},
};

class PlanUnits : public ::testing::TestWithParam<PlanCase> {};

TEST_P(PlanUnits, Table) {
  const PlanCase& c = GetParam();
  const UnitPlan plan = plan_units(c.tests, c.isolation, c.jobs, c.groups);
  EXPECT_EQ(describe(plan, c.tests, c.groups), c.expected);
  ASSERT_EQ(plan.group_of_test.size(), c.tests.size());
  for (std::size_t i = 0; i < c.tests.size(); ++i) EXPECT_EQ(plan.group_of_test[i], group_of(c.tests[i], c.groups));
}

INSTANTIATE_TEST_SUITE_P(Cases, PlanUnits, ::testing::ValuesIn(kPlanCases), CaseName());

// Every test without a skip reason is in exactly one unit, whatever the options.
void expect_each_test_once(const UnitPlan& plan, const std::vector<TestCase>& tests) {
  std::vector<int> seen(tests.size(), 0);
  for (const auto& unit : plan.units)
    for (std::size_t index : unit.tests) ++seen.at(index);
  for (std::size_t i = 0; i < tests.size(); ++i) EXPECT_EQ(seen[i], tests[i].skip_reason ? 0 : 1) << tests[i].name;
}

TEST(PlanUnits, HugeSuitesAreSplitSoCommandLinesStaySmall) {
  std::vector<TestCase> tests;
  for (int i = 0; i < 3000; ++i) tests.push_back(gtest("VeryLongSuiteNameForTesting.TestNumber" + std::to_string(i)));
  const UnitPlan plan = plan_units(tests, Isolation::Batch, 1, {});
  EXPECT_EQ(plan.units.size(), 4u);  // 3000 names of 39-42 bytes: 128 KB in 32 KiB pieces
  for (const auto& unit : plan.units) {
    std::size_t bytes = 0;
    for (std::size_t index : unit.tests) bytes += tests[index].name.size() + 1;
    EXPECT_LE(bytes, kMaxShardNameBytes);
  }
  expect_each_test_once(plan, tests);
}

// --partition K/N slices the selection before any plan: each slice is planned
// on its own, and the slices' units together run every test once.
TEST(PlanUnits, EachPartitionIsPlannedFromItsOwnSlice) {
  std::vector<TestCase> all;
  for (int i = 0; i < 7; ++i) all.push_back(gtest("A.t" + std::to_string(i)));
  for (int i = 0; i < 4; ++i) all.push_back(gtest("B.t" + std::to_string(i), "/build/other_tests"));
  all.push_back(plain("p"));
  all.push_back(gtest("A.Serial"));
  std::multiset<std::string> ran;
  for (std::size_t k = 1; k <= 3; ++k) {
    const auto slice = select_tests(all, {}, {}, Partition{k, 3});
    for (const auto isolation : {Isolation::Batch, Isolation::Process}) {
      const UnitPlan plan = plan_units(slice, isolation, 2, {kSerial});
      expect_each_test_once(plan, slice);
      if (isolation == Isolation::Process) continue;
      for (const auto& unit : plan.units) {
        // A shard holds one binary's tests of this slice only, within the job slots.
        for (std::size_t index : unit.tests) {
          EXPECT_EQ(slice[index].binary, slice[unit.tests.front()].binary);
          ran.insert(slice[index].name);
        }
      }
    }
  }
  std::multiset<std::string> every;
  for (const auto& test : all) every.insert(test.name);
  EXPECT_EQ(ran, every);
}

// ------------------------------------------------------------- unit_request

TEST(UnitRequest, ABatchAsksForItsTestsByNameWithWhatTheyRunWith) {
  std::vector<TestCase> tests = {in_dir(with_env(gtest("A.a"), "LANG=C"), "/work"), gtest("A.b"),
                                 in_dir(with_env(gtest("A.c"), "LANG=C"), "/work")};
  tests[0].backend = parse_backend("system");
  ASSERT_NE(tests[0].backend, nullptr) << "a row named system";
  tests[0].host_dirs = {"/data"};
  const JobRequest request = unit_request(tests, TestUnit{{0, 2}, std::nullopt}, {});
  EXPECT_EQ(request.program, "/build/suite_tests");
  EXPECT_EQ(request.args, (std::vector<std::string>{"--gtest_filter=A.a:A.c", "--gtest_color=no"}));
  EXPECT_EQ(request.cwd, "/work");
  EXPECT_EQ(request.extra_env, std::vector<std::string>{"LANG=C"});
  EXPECT_EQ(request.backend, parse_backend("system"));
  EXPECT_EQ(request.host_dirs, std::vector<std::string>{"/data"});
  EXPECT_TRUE(request.private_tmpdir);
  EXPECT_FALSE(request.fork_server);
  EXPECT_EQ(request.deadline_seconds, std::nullopt);
}

TEST(UnitRequest, APlainProgramGetsItsOwnArgumentsAndNoForkServer) {
  const std::vector<TestCase> tests = {plain("check", {"--fast", "x"})};
  const JobRequest request = unit_request(tests, TestUnit{{0}, std::nullopt}, {.isolation = Isolation::Process});
  EXPECT_EQ(request.args, (std::vector<std::string>{"--fast", "x"}));
  EXPECT_FALSE(request.fork_server);
}

struct ForkCase {
  std::string name;
  TestCase test;
  Isolation isolation;
  bool expected;
};

void PrintTo(const ForkCase& c, std::ostream* out) { *out << c.name; }

const std::vector<ForkCase> kForkCases = {
    {"ALoneHarnessTestInProcessIsolation", gtest("A.a"), Isolation::Process, true},
    {"NotInBatch", gtest("A.a"), Isolation::Batch, false},
    {"NotAPlainProgram", plain("p"), Isolation::Process, false},
    {"ANameWithinTheServersRoom", gtest(std::string(4096 + 30, 'n')), Isolation::Process, true},
    {"NotANameLongerThanTheServersRoom", gtest(std::string(4096 + 31, 'n')), Isolation::Process, false},
};

class UnitRequestForkServer : public ::testing::TestWithParam<ForkCase> {};

TEST_P(UnitRequestForkServer, Table) {
  const ForkCase& c = GetParam();
  const JobRequest request = unit_request({c.test}, TestUnit{{0}, std::nullopt}, {.isolation = c.isolation});
  EXPECT_EQ(request.fork_server, c.expected);
  if (!c.expected) {
    EXPECT_TRUE(request.fork_server_args.empty());
    return;
  }
  // The server's own arguments name a test of no name with room for any.
  ASSERT_EQ(request.fork_server_args.size(), 2u);
  EXPECT_EQ(request.fork_server_args[0].rfind("--gtest_filter=xrun-fork-server-runs-no-test-xxx", 0), 0u);
  EXPECT_EQ(request.fork_server_args[0].size(), std::string("--gtest_filter=").size() + 4096 + 30);
}

INSTANTIATE_TEST_SUITE_P(Cases, UnitRequestForkServer, ::testing::ValuesIn(kForkCases), CaseName());

TEST(UnitRequest, APrivateTmpdirUnlessTheTestSetsOneOrItIsOff) {
  const std::vector<TestCase> tests = {gtest("A.a"), with_env(gtest("A.b"), "TMPDIR=/scratch"),
                                       with_env(gtest("A.c"), "XTMPDIR=/x")};
  EXPECT_TRUE(unit_request(tests, TestUnit{{0}, std::nullopt}, {}).private_tmpdir);
  EXPECT_FALSE(unit_request(tests, TestUnit{{1}, std::nullopt}, {}).private_tmpdir);
  EXPECT_TRUE(unit_request(tests, TestUnit{{2}, std::nullopt}, {}).private_tmpdir);
  EXPECT_FALSE(unit_request(tests, TestUnit{{0}, std::nullopt}, {.private_tmpdirs = false}).private_tmpdir);
}

TEST(UnitRequest, TheDeadlineIsTheTimeoutAndTheGrace) {
  const std::vector<TestCase> tests = {gtest("A.a")};
  EXPECT_EQ(
      unit_request(tests, TestUnit{{0}, std::nullopt}, {.timeout_seconds = 10, .grace_seconds = 2.5}).deadline_seconds,
      12.5);
  EXPECT_EQ(unit_request(tests, TestUnit{{0}, std::nullopt}, {.grace_seconds = 2.5}).deadline_seconds, std::nullopt);
}

}  // namespace
}  // namespace xrun
