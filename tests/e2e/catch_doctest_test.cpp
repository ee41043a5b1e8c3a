// `xrun test` on a Catch2 v2 suite and a doctest suite cross-built for
// aarch64 (tests/fixtures/catch_suite, doctest_suite), under real qemu-user:
// every case is its own result, in batch and process isolation alike
// (crashes blamed on the running case, the rest re-run, hangs timed out,
// hidden and skipped cases listed but not run, names with characters their
// filters must escape); and CTest tests made by catch_discover_tests /
// doctest_discover_tests or running a whole binary, through --ctest.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "e2e/xrun_runner.h"
#include "support/report_json.h"
#include "support/temp_dir.h"

namespace xrun::testing {
namespace {

using nlohmann::json;
using Statuses = std::map<std::string, std::string>;

const std::string kCatch = std::string(XRUN_CATCH_SUITE_BUILD) + "/catch_tests";
const std::string kDoctest = std::string(XRUN_DOCTEST_SUITE_BUILD) + "/doctest_tests";

const Statuses kCatchExpected = {
    {"passes", "passed"},
    {"fails", "failed"},
    {"crashes with SIGSEGV", "crashed"},
    {"aborts", "crashed"},
    {"hangs", "timed-out"},
    {"hidden by a dot", "skipped"},
    {"hidden by a dotted tag", "skipped"},
    {"hidden by !hide", "skipped"},
    {"prints to stdout", "passed"},
    {"has sections", "passed"},
    {"name, with a comma", "passed"},
    {"name [with] brackets", "passed"},
    {"back\\slash and \"quotes\"", "passed"},
    {"*star first", "passed"},
    {"star last*", "passed"},
    {"~tilde first", "passed"},
    {"xml <&> 'special'", "passed"},
    {"Mixed Case", "passed"},
    {"MIXED CASE", "failed"},
    {"passes last", "passed"},
};

const Statuses kDoctestExpected = {
    {"passes", "passed"},
    {"fails", "failed"},
    {"crashes with SIGSEGV", "crashed"},
    {"aborts", "crashed"},
    {"hangs", "timed-out"},
    {"skipped", "skipped"},
    {"prints to stdout", "passed"},
    {"has subcases", "passed"},
    {"in a suite", "passed"},
    {"name, with a comma", "passed"},
    {"back\\slash, and \\, both", "passed"},
    {"xml <&> \"special\"", "passed"},
    {"wild?card", "passed"},
    {"wildXcard", "failed"},
    {"star*", "passed"},
    {"passes last", "passed"},
};

const json* find_test(const json& report, const std::string& name) {
  for (const auto& t : report["tests"])
    if (t["name"] == name) return &t;
  return nullptr;
}

struct Suite {
  std::string binary;
  const Statuses* expected;
  std::string failure;  // the "fails" case's assertion, as the report carries it
};

class CatchDoctestMode : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(CatchDoctestMode, EveryCaseIsItsOwnResult) {
  const auto& [framework, isolation] = GetParam();
  const Suite suite = framework == "catch2"
                          ? Suite{kCatch, &kCatchExpected,
                                  "catch_suite_test.cpp:17: REQUIRE( answer == 42 )\nwith expansion:\n  41 == 42"}
                          : Suite{kDoctest, &kDoctestExpected,
                                  "doctest_suite_test.cpp:17: CHECK( answer == 42 )\nwith expansion:\n  41 == 42"};
  TempDir dir;
  auto r = run_xrun({"test", suite.binary, "--isolation", isolation, "-j2", "--timeout", "5", "--no-cache", "--json",
                     dir.path() + "/r.json"},
                    {.timeout_seconds = 300});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  const json report = read_json(dir.path() + "/r.json");
  EXPECT_EQ(statuses(report), *suite.expected) << r.out;
  if (const json* t = find_test(report, "crashes with SIGSEGV")) {
    EXPECT_EQ((*t)["signal"], 11);
    EXPECT_NE((*t)["output"].get<std::string>().find("before the crash"), std::string::npos) << (*t)["output"];
  }
  if (const json* t = find_test(report, "aborts")) EXPECT_EQ((*t)["signal"], 6);
  if (const json* t = find_test(report, "prints to stdout")) {
    const std::string output = (*t)["output"];
    EXPECT_NE(output.find("printf line from the case"), std::string::npos) << output;
    EXPECT_NE(output.find("cout line from the case"), std::string::npos) << output;
  }
  if (const json* t = find_test(report, "passes")) {
    EXPECT_EQ((*t)["output"].get<std::string>().find("answer == 42"), std::string::npos) << "another case's output";
  }
  if (const json* t = find_test(report, "fails")) {
    ASSERT_TRUE((*t)["failure"].is_string()) << *t;
    const std::string failure = (*t)["failure"];
    EXPECT_NE(failure.find(suite.failure), std::string::npos) << failure;
    EXPECT_EQ((*t)["message"], failure.substr(0, failure.find('\n')));
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, CatchDoctestMode,
                         ::testing::Combine(::testing::Values("catch2", "doctest"),
                                            ::testing::Values("batch", "process")),
                         [](const auto& info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param); });

// A listing is the cases, in the binary's order, with what is not to run.
TEST(CatchDoctest, ListingShowsHiddenAndSkippedCases) {
  auto catch2 = run_xrun({"test", kCatch, "--list", "--no-cache"});
  EXPECT_EQ(catch2.exit_code, 0) << describe(catch2);
  EXPECT_NE(catch2.out.find(kCatch + " hidden by !hide (hidden)"), std::string::npos) << catch2.out;
  EXPECT_NE(catch2.out.find(kCatch + " name [with] brackets\n"), std::string::npos) << catch2.out;
  auto doctest = run_xrun({"test", kDoctest, "--list", "--no-cache"});
  EXPECT_EQ(doctest.exit_code, 0) << describe(doctest);
  EXPECT_NE(doctest.out.find(kDoctest + " skipped (skipped)"), std::string::npos) << doctest.out;
}

// catch_discover_tests and doctest_discover_tests make a CTest test per
// case, which runs the binary with the case's name: each is one result,
// named as CTest names it. A CTest test that runs the whole binary becomes
// its cases.
TEST(CatchDoctest, CTestTestsOfBothFrameworks) {
  for (const auto& [build, binary] : {std::pair{std::string(XRUN_CATCH_SUITE_BUILD), kCatch},
                                      std::pair{std::string(XRUN_DOCTEST_SUITE_BUILD), kDoctest}}) {
    TempDir dir;
    auto discovered = run_xrun({"test", "--ctest", build, "--filter", "discovered.*", "--json", dir.path() + "/d.json"},
                               {.timeout_seconds = 300});
    EXPECT_EQ(discovered.exit_code, binary == kCatch ? 1 : 0) << describe(discovered);
    const Statuses expected = binary == kCatch
                                  ? Statuses{{"discovered.passes", "passed"}, {"discovered.fails", "failed"}}
                                  : Statuses{{"discovered.passes", "passed"}, {"discovered.passes last", "passed"}};
    EXPECT_EQ(statuses(read_json(dir.path() + "/d.json")), expected) << discovered.out;
    auto whole = run_xrun({"test", "--ctest", build, "--filter", "pass*", "--filter", "name, with a comma", "--json",
                           dir.path() + "/w.json"},
                          {.timeout_seconds = 300});
    EXPECT_EQ(whole.exit_code, 0) << describe(whole);
    EXPECT_EQ(statuses(read_json(dir.path() + "/w.json")),
              (Statuses{{"passes", "passed"}, {"passes last", "passed"}, {"name, with a comma", "passed"}}))
        << whole.out;
  }
}

}  // namespace
}  // namespace xrun::testing
