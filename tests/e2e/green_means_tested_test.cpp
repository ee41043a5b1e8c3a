// Green must mean tested (issue 24): `xrun test` never exits 0 for a run that
// tested nothing, or whose test process crashed or exited badly after its
// tests reported; a test's stderr never splits its harness's result lines;
// a listing that depends on the files in its directory is not reused when
// they change. Real cross-built GoogleTest binaries under real qemu-user.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "e2e/xrun_runner.h"
#include "support/report_json.h"
#include "support/temp_dir.h"

namespace xrun::testing {
namespace {

using nlohmann::json;

const std::string kSuiteBuild = XRUN_GTEST_SUITE_BUILD;

// --filter that matches nothing: exit 5, naming the binary and the filter,
// unless --no-tests says that is expected. The reports are still written.
TEST(GreenMeansTested, NothingToRunIsAnErrorOfItsOwn) {
  TempDir dir;
  const std::string suite = kSuiteBuild + "/verdict_tests";
  auto none = run_xrun({"test", suite, "--filter", "NoSuch.*", "--json", dir.path() + "/r.json"});
  EXPECT_EQ(none.exit_code, 5) << describe(none);
  EXPECT_NE(none.err.find("xrun: error: no tests to run: 1 binary (verdict_tests) listed 3 tests; --filter 'NoSuch.*' "
                          "left 0"),
            std::string::npos)
      << none.err;
  EXPECT_EQ(read_json(dir.path() + "/r.json")["summary"]["total"], 0);
  auto warned = run_xrun({"test", suite, "--filter", "NoSuch.*", "--no-tests", "warn"});
  EXPECT_EQ(warned.exit_code, 0) << describe(warned);
  EXPECT_NE(warned.err.find("xrun: warning: no tests to run"), std::string::npos) << warned.err;
  auto passed = run_xrun({"test", suite, "--filter", "NoSuch.*", "--no-tests=pass"});
  EXPECT_EQ(passed.exit_code, 0) << describe(passed);
  EXPECT_EQ(passed.err.find("no tests to run"), std::string::npos) << passed.err;
  // A listing with no tests at all (data_tests without a cases.txt).
  auto empty = run_xrun({"test", kSuiteBuild + "/data_tests"}, {.cwd = dir.path()});
  EXPECT_EQ(empty.exit_code, 5) << describe(empty);
  EXPECT_NE(empty.err.find("(data_tests) listed 0 tests"), std::string::npos) << empty.err;
}

struct Ending {
  std::string at_exit;  // VERDICT_AT_EXIT
  std::string status;   // of each test in process isolation, of "(process exit)" in batch
  std::string detail;   // in the message
};

void PrintTo(const Ending& ending, std::ostream* os) { *os << ending.at_exit; }

class EndingAfterTheTests : public ::testing::TestWithParam<std::tuple<Ending, std::string>> {};

// Every test passed, then the process crashed (a static destructor), exited
// 23 (LeakSanitizer) or exit(3)ed: the run fails, naming how.
TEST_P(EndingAfterTheTests, FailsTheRun) {
  const auto& [ending, mode] = GetParam();
  TempDir dir;
  std::vector<std::string> args = {
      "test",        kSuiteBuild + "/verdict_tests", "-j1", "--json", dir.path() + "/r.json",
      "--isolation", mode.substr(0, mode.find(' '))};
  if (mode.find(' ') != std::string::npos) args.push_back(mode.substr(mode.find(' ') + 1));
  auto r = run_xrun(args, {.env = environment_with({"VERDICT_AT_EXIT=" + ending.at_exit}), .timeout_seconds = 120});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  const json report = read_json(dir.path() + "/r.json");
  const auto s = statuses(report);
  if (mode == "batch") {
    EXPECT_EQ(s, (std::map<std::string, std::string>{{"Verdict.First", "passed"},
                                                     {"Verdict.WritesToStderrMidLine", "passed"},
                                                     {"Verdict.Last", "passed"},
                                                     {"(process exit)", ending.status}}));
  } else {
    EXPECT_EQ(s, (std::map<std::string, std::string>{{"Verdict.First", ending.status},
                                                     {"Verdict.WritesToStderrMidLine", ending.status},
                                                     {"Verdict.Last", ending.status}}));
  }
  for (const auto& t : report["tests"]) {
    if (t["status"] == "passed") continue;
    const std::string message = t["message"];
    EXPECT_NE(message.find(ending.detail), std::string::npos) << t["name"] << ": " << message;
    EXPECT_NE(
        message.find(mode == "batch" ? "after its tests reported (Verdict.First, " : "after the test reported passed"),
        std::string::npos)
        << message;
  }
}

INSTANTIATE_TEST_SUITE_P(Endings, EndingAfterTheTests,
                         ::testing::Combine(::testing::Values(Ending{"segv", "crashed", "SIGSEGV (signal 11)"},
                                                              Ending{"lsan", "failed", "exit status 23"},
                                                              Ending{"exit3", "failed", "exit status 3"}),
                                            ::testing::Values("batch", "process", "process --no-fork-server")),
                         [](const auto& info) {
                           std::string mode = std::get<1>(info.param);
                           for (char& c : mode)
                             if (c == ' ' || c == '-') c = '_';
                           return std::get<0>(info.param).at_exit + "_" + mode;
                         });

// A test writes to stderr without a newline before GoogleTest prints its
// "[       OK ]": all pass, in one process in batch mode, and the note is
// in the output. In process isolation it is that test's; in batch it goes to
// the test running when it is read, and two pipes read by one loop keep no
// order between them: under load the next test's start may be read first.
TEST(GreenMeansTested, StderrMidLineDoesNotSplitTheResultLine) {
  for (const std::string mode : {"batch", "process"}) {
    TempDir dir;
    auto r = run_xrun(
        {"test", kSuiteBuild + "/verdict_tests", "-j1", "-v", "--isolation", mode, "--json", dir.path() + "/r.json"},
        {.timeout_seconds = 120});
    EXPECT_EQ(r.exit_code, 0) << mode << ": " << describe(r);
    const json report = read_json(dir.path() + "/r.json");
    EXPECT_EQ(statuses(report), (std::map<std::string, std::string>{{"Verdict.First", "passed"},
                                                                    {"Verdict.WritesToStderrMidLine", "passed"},
                                                                    {"Verdict.Last", "passed"}}))
        << mode;
    std::size_t notes = 0;
    for (const auto& t : report["tests"]) {
      const bool wrote = t["output"].get<std::string>().find("a note on stderr without a newline") != std::string::npos;
      notes += wrote;
      if (mode == "process")
        EXPECT_EQ(wrote, t["name"] == "Verdict.WritesToStderrMidLine") << t["name"] << ":\n" << t["output"];
    }
    EXPECT_EQ(notes, 1u) << mode << ": the note is in the output once";
    if (mode == "batch") {
      std::size_t starts = 0;
      for (std::size_t at = r.err.find("--gtest_filter="); at != std::string::npos;
           at = r.err.find("--gtest_filter=", at + 1))
        ++starts;  // (a listing, when the cache has none, starts with --gtest_list_tests)
      EXPECT_EQ(starts, 1u) << "one process ran the shard, nothing re-ran:\n" << r.err;
    }
  }
}

// A listing that reads ./cases.txt: a new (failing) case in the file, or
// another directory with other data, is listed again, not taken from the
// cache; and a run that uses the cache says so.
TEST(GreenMeansTested, AListingThatReadsItsDirectoryIsNotReusedWhenItChanges) {
  TempDir dir, cache;
  const auto env = environment_with({"XDG_CACHE_HOME=" + cache.path()});
  const std::string data_tests = kSuiteBuild + "/data_tests";
  const std::string here = dir.path() + "/here", there = dir.path() + "/there";
  dir.write("here/cases.txt", "one\ntwo\n");
  dir.write("there/cases.txt", "three\nfour\nfive\n");
  const auto run_in = [&](const std::string& cwd) {
    return run_xrun({"test", data_tests, "--json", dir.path() + "/r.json"},
                    {.cwd = cwd, .env = env, .timeout_seconds = 120});
  };
  auto first = run_in(here);
  EXPECT_EQ(first.exit_code, 0) << describe(first);
  EXPECT_EQ(read_json(dir.path() + "/r.json")["summary"]["total"], 2);
  EXPECT_EQ(first.out.find("listing cache"), std::string::npos) << first.out;
  auto again = run_in(here);
  EXPECT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_NE(again.out.find("xrun: the tests of 1 binary come from the listing cache (listed up to "), std::string::npos)
      << again.out;
  auto elsewhere = run_in(there);
  EXPECT_EQ(elsewhere.exit_code, 0) << describe(elsewhere);
  EXPECT_EQ(read_json(dir.path() + "/r.json")["summary"]["total"], 3) << "another directory's cases";
  dir.write("here/cases.txt", "one\ntwo\nthis one should fail\n");
  auto changed = run_in(here);
  EXPECT_EQ(changed.exit_code, 1) << "the new failing case ran: " << describe(changed);
  const auto s = statuses(read_json(dir.path() + "/r.json"));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.at("FromFile/Data.LineDoesNotSayFail/2"), "failed");
}

}  // namespace
}  // namespace xrun::testing
