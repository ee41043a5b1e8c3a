// `xrun test` end to end: a GoogleTest suite cross-built for aarch64 and a
// Rust crate, under real qemu-user, in both isolation modes; timeouts,
// retries, partition + merge, --ctest, --cargo, infra errors, and Ctrl-C.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "e2e/xrun_runner.h"
#include "support/report_json.h"
#include "support/temp_dir.h"

extern char** environ;

namespace xrun::testing {
namespace {

using nlohmann::json;

const std::string kSuite = XRUN_GTEST_SUITE;

void expect_valid_junit(const std::string& path) {
  auto r = run({"xmllint", "--noout", "--schema", XRUN_JUNIT_XSD, path});
  EXPECT_EQ(r.exit_code, 0) << "JUnit report does not validate:\n" << describe(r);
}

// A private copy of the suite, so that a check for leftover processes only
// sees this test's own (ctest runs other tests on the same suite meanwhile).
std::string private_suite(const TempDir& dir) {
  const std::string copy = dir.path() + "/suite_tests";
  std::filesystem::copy_file(kSuite, copy);
  return copy;
}

const std::map<std::string, std::string> kExpected = {
    {"Pass.Simple", "passed"},
    {"Pass.Threads", "passed"},
    {"Fail.Assertion", "failed"},
    {"Crash.Segfault", "crashed"},
    {"Crash.Abort", "crashed"},
    {"Hang.Forever", "timed-out"},
    {"Skip.AtRuntime", "skipped"},
    {"Disabled.DISABLED_NeverRuns", "skipped"},
    {"DISABLED_WholeSuite.NeverRuns", "skipped"},
    {"Hostile.Output", "passed"},
    {"Flaky.PassesOnRetry", "passed"},
    {"Spew.Output", "passed"},
    {"Typed/0.DefaultIsZero", "passed"},
    {"Typed/1.DefaultIsZero", "passed"},
    {"Values/Param.Positive/0", "passed"},
    {"Values/Param.Positive/1", "passed"},
    {"Values/Param.Positive/2", "passed"},
};

class IsolationMode : public ::testing::TestWithParam<std::string> {};

TEST_P(IsolationMode, EveryOutcomeOfTheSuiteIsReportedRightly) {
  TempDir dir;
  const std::string suite = private_suite(dir);
  auto r = run_xrun({"test", suite, "--isolation", GetParam(), "-j2", "--timeout", "3", "--json",
                     dir.path() + "/r.json", "--junit", dir.path() + "/r.xml", "--no-cache"},
                    {.timeout_seconds = 240});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  const json report = read_json(dir.path() + "/r.json");
  EXPECT_EQ(statuses(report), kExpected);
  EXPECT_EQ(report["schema"], "xrun-test-report/1");
  EXPECT_EQ(report["summary"]["total"], 17);
  for (const auto& t : report["tests"]) {
    EXPECT_EQ(t["binary"], suite);
    if (t["name"] == "Crash.Segfault") {
      EXPECT_EQ(t["signal"], 11);
      EXPECT_EQ(t["signal_name"], "SIGSEGV");
      EXPECT_NE(t["output"].get<std::string>().find("before the crash"), std::string::npos);
      EXPECT_EQ(t["backend"], "qemu-user");
    }
    if (t["name"] == "Fail.Assertion") {
      EXPECT_NE(t["output"].get<std::string>().find("arithmetic is broken"), std::string::npos);
    }
    if (t["name"] == "Pass.Simple") {
      EXPECT_EQ(t["output"].get<std::string>().find("arithmetic is broken"), std::string::npos) << "output leaked";
    }
  }
  expect_valid_junit(dir.path() + "/r.xml");
  std::ifstream xml(dir.path() + "/r.xml");
  const std::string junit((std::istreambuf_iterator<char>(xml)), {});
  EXPECT_NE(junit.find("<failure message=\"SIGSEGV (signal 11)\" type=\"crashed\">"), std::string::npos);
  // A failure's element carries its assertion, which CI viewers show.
  const auto failure = junit.find("suite_test.cpp:26: Failure&#10;Expected equality of these values:");
  EXPECT_NE(failure, std::string::npos) << junit;
  EXPECT_NE(junit.find("arithmetic is broken</failure>", failure), std::string::npos) << junit;
  EXPECT_NE(junit.find("<failure message=\"timed out after 3 s\" type=\"timed-out\">"), std::string::npos);
  // Terminal (not a TTY here): a line per test, failures with output, a summary.
  EXPECT_NE(r.out.find("   CRASH ["), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n10 passed, 4 failed, 3 skipped\n"), std::string::npos) << r.out;
  EXPECT_TRUE(processes_mentioning(suite).empty()) << "left behind:\n" << processes_mentioning(suite).front();
}

INSTANTIATE_TEST_SUITE_P(Modes, IsolationMode, ::testing::Values("batch", "process"));

TEST(XrunTest, RetriesReportFlakyAndExitZero) {
  TempDir dir;
  RunOptions options;
  options.env = environment_with({"FLAKY_DIR=" + dir.path()});
  auto r = run_xrun(
      {"test", kSuite, "--filter", "Flaky.*", "--filter", "Pass.*", "--retries", "2", "--json", dir.path() + "/r.json"},
      options);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const json report = read_json(dir.path() + "/r.json");
  EXPECT_EQ(statuses(report),
            (std::map<std::string, std::string>{
                {"Flaky.PassesOnRetry", "flaky"}, {"Pass.Simple", "passed"}, {"Pass.Threads", "passed"}}));
  for (const auto& t : report["tests"])
    if (t["name"] == "Flaky.PassesOnRetry") {
      EXPECT_EQ(t["attempts"], 2);
      EXPECT_EQ(t["message"], "passed on attempt 2 of 3");
    }
}

TEST(XrunTest, ExitCodesFollowTheWorstResult) {
  EXPECT_EQ(run_xrun({"test", kSuite, "--filter", "Pass.*"}).exit_code, 0);
  EXPECT_EQ(run_xrun({"test", kSuite, "--filter", "Crash.Abort"}).exit_code, 1);
  auto usage = run_xrun({"test", kSuite, "--partition", "3/2"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.err.find("xrun: error: --partition must be K/N"), std::string::npos) << usage.err;
  auto missing = run_xrun({"test", "/nonexistent/tests"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/tests: no such test binary"), std::string::npos);
}

TEST(XrunTest, EmulatorProblemsAreInfraErrorsWithTheirOwnExitCode) {
  RunOptions options;
  options.env = environment_with({"XRUN_AARCH64_SYSROOT=/nonexistent/sysroot"});
  TempDir dir;
  auto r = run_xrun({"test", helper("aarch64", "dynamic"), "--json", dir.path() + "/r.json"}, options);
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  const json report = read_json(dir.path() + "/r.json");
  EXPECT_EQ(report["tests"][0]["status"], "infra-error");
  EXPECT_NE(report["tests"][0]["message"].get<std::string>().find("/nonexistent/sysroot"), std::string::npos);
}

TEST(XrunTest, HugeOutputIsBounded) {
  TempDir dir;
  RunOptions options;
  options.env = environment_with({"SPEW_BYTES=20000000"});
  auto r = run_xrun({"test", kSuite, "--filter", "Spew.*", "--json", dir.path() + "/r.json"}, options);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const json report = read_json(dir.path() + "/r.json");
  const auto& t = report["tests"][0];
  EXPECT_LT(t["output"].get<std::string>().size(), 200000u);
  EXPECT_GT(t["output_cut_bytes"].get<std::uint64_t>(), 19000000u);
  EXPECT_NE(t["output"].get<std::string>().find("bytes of output cut"), std::string::npos);
}

TEST(XrunTest, PartitionsMergeIntoTheWholeRun) {
  TempDir dir;
  std::vector<std::string> shards;
  for (const std::string k : {"1/3", "2/3", "3/3"}) {
    const std::string path = dir.path() + "/shard" + k.substr(0, 1) + ".json";
    auto r = run_xrun({"test", kSuite, "--exclude", "Hang.*", "--exclude", "Crash.*", "--exclude", "Fail.*",
                       "--partition", k, "--json", path});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    shards.push_back(path);
  }
  auto merge = run_xrun({"report", "merge", shards[0], shards[1], shards[2], "--json", dir.path() + "/all.json",
                         "--junit", dir.path() + "/all.xml"});
  EXPECT_EQ(merge.exit_code, 0) << describe(merge);
  EXPECT_NE(merge.out.find("merged 3 reports: 13 tests"), std::string::npos) << merge.out;
  auto merged = statuses(read_json(dir.path() + "/all.json"));
  EXPECT_EQ(merged.size(), 13u);
  for (const auto& [name, status] : merged) EXPECT_EQ(status, kExpected.at(name)) << name;
  expect_valid_junit(dir.path() + "/all.xml");
  auto broken = run_xrun({"report", "merge", dir.write("bad.json", "{oops")});
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_NE(broken.err.find("bad.json: not a JSON report"), std::string::npos) << broken.err;
}

TEST(XrunTest, SecondRunUsesTheListingCache) {
  TempDir cache;
  RunOptions options;
  options.env = environment_with({"XDG_CACHE_HOME=" + cache.path(), "XRUN_LOG=debug"});
  auto first = run_xrun({"test", kSuite, "--list"}, options);
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  EXPECT_NE(first.err.find("start: qemu-aarch64"), std::string::npos) << "the first run lists under qemu:\n"
                                                                      << first.err;
  auto second = run_xrun({"test", kSuite, "--list"}, options);
  EXPECT_EQ(second.out, first.out);
  EXPECT_EQ(second.err.find("start: qemu-aarch64"), std::string::npos) << "the listing came from the cache:\n"
                                                                       << second.err;
  EXPECT_NE(first.out.find(kSuite + " Disabled.DISABLED_NeverRuns (disabled)"), std::string::npos) << first.out;
}

TEST(XrunTest, CTestTestsRunThroughTheEngine) {
  TempDir dir;
  auto r =
      run_xrun({"test", "--ctest", XRUN_GTEST_SUITE_BUILD, "--filter", "suite_*", "--json", dir.path() + "/r.json"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  auto s = statuses(read_json(dir.path() + "/r.json"));
  EXPECT_EQ(s, (std::map<std::string, std::string>{{"suite_pass", "passed"}, {"suite_fail", "failed"}}));
}

class CargoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::copy(std::string(XRUN_SOURCE_DIR) + "/tests/fixtures/rust_sample", dir_.path() + "/crate",
                          std::filesystem::copy_options::recursive);
  }
  RunResult xrun_cargo(const std::vector<std::string>& flags, std::vector<std::string> env = {}) {
    env.insert(env.end(), {"CARGO=/usr/bin/cargo", "RUSTC=/usr/bin/rustc", "CARGO_HOME=" + dir_.path() + "/home",
                           "CARGO_TARGET_DIR=" + dir_.path() + "/target",
                           "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc", "RUSTUP_TOOLCHAIN"});
    std::vector<std::string> args = {"test", "--cargo", "--json", dir_.path() + "/r.json"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"--", "--offline", "--target", "aarch64-unknown-linux-gnu"});
    return run_xrun(args, {.cwd = dir_.path() + "/crate", .env = environment_with(env), .timeout_seconds = 600});
  }
  TempDir dir_;
};

// Process isolation forks the libtest binaries from fork servers
// (engine/fork_server.h) unless --no-fork-server: the statuses are the same.
TEST_F(CargoTest, LibtestBinariesRunLikeCargoWouldInBothModes) {
  for (const std::string mode : {"batch", "process", "process --no-fork-server"}) {
    std::vector<std::string> flags = {"--isolation", mode.substr(0, mode.find(' '))};
    if (mode.find(' ') != std::string::npos) flags.push_back(mode.substr(mode.find(' ') + 1));
    auto r = xrun_cargo(flags);
    EXPECT_EQ(r.exit_code, 0) << mode << ": " << describe(r);
    auto s = statuses(read_json(dir_.path() + "/r.json"));
    EXPECT_EQ(s, (std::map<std::string, std::string>{{"tests::threads_add_up", "passed"},
                                                     {"tests::fixture_relative_to_package_root", "passed"},
                                                     {"tests::cargo_environment_is_visible", "passed"},
                                                     {"tests::panics_as_expected", "passed"},
                                                     {"tests::ignored_test", "skipped"},
                                                     {"tests::crashes_when_asked", "passed"},
                                                     {"the_binary_runs_with_its_arguments", "passed"}}))
        << mode;
  }
}

TEST_F(CargoTest, ACrashingRustTestIsCrashedAndTheOthersStillRun) {
  auto r = xrun_cargo({}, {"SAMPLE_CRASH=1"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  auto s = statuses(read_json(dir_.path() + "/r.json"));
  EXPECT_EQ(s["tests::crashes_when_asked"], "crashed");
  EXPECT_EQ(s["tests::threads_add_up"], "passed");
  EXPECT_EQ(s["tests::panics_as_expected"], "passed");
}

// A toolchain without the target's standard library (here Debian's rustc,
// which has none for riscv64): the error says which cargo and rustc ran and
// what is missing.
TEST_F(CargoTest, AToolchainWithoutTheTargetsStandardLibraryIsNamed) {
  auto r = run_xrun(
      {"test", "--cargo", "--", "--offline", "--target", "riscv64gc-unknown-linux-gnu"},
      {.cwd = dir_.path() + "/crate",
       .env = environment_with({"CARGO=/usr/bin/cargo", "RUSTC=/usr/bin/rustc", "CARGO_HOME=" + dir_.path() + "/home",
                                "CARGO_TARGET_DIR=" + dir_.path() + "/target", "RUSTUP_TOOLCHAIN"}),
       .timeout_seconds = 600});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("xrun: error: cargo test --no-run failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("it ran /usr/bin/cargo (cargo 1."), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("with /usr/bin/rustc (rustc 1."), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no standard library for riscv64gc-unknown-linux-gnu"), std::string::npos) << r.err;
}

TEST(XrunTest, CtrlCStopsEverythingAndLeavesAValidReport) {
  TempDir dir;
  const std::string suite = private_suite(dir);
  const std::string json_path = dir.path() + "/r.json";
  const pid_t pid = start_xrun(
      {"test", suite, "--filter", "Hang.*", "--filter", "Pass.*", "-j2", "--isolation", "process", "--json", json_path},
      environment_with({}), dir.path() + "/out.txt");
  ASSERT_GT(pid, 0);
  // Wait until the passing tests are in the report and the hang is running.
  ASSERT_TRUE(wait_for_results(json_path, {"Pass.Threads", "Pass.Simple"}, 30)) << "the passing tests never finished";
  ASSERT_FALSE(processes_mentioning(suite).empty()) << "the hanging test should be running";
  const int status = interrupt_xrun(pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const json report = read_json(json_path);
  EXPECT_TRUE(report["interrupted"].get<bool>());
  EXPECT_EQ(statuses(report), (std::map<std::string, std::string>{
                                  {"Pass.Simple", "passed"}, {"Pass.Threads", "passed"}, {"Hang.Forever", "not-run"}}));
  EXPECT_TRUE(processes_mentioning(suite).empty()) << "left behind:\n" << processes_mentioning(suite).front();
  // The closing line counts what did not run as such, not as skipped.
  std::ifstream out(dir.path() + "/out.txt");
  const std::string text((std::istreambuf_iterator<char>(out)), {});
  EXPECT_NE(text.find("\n2 passed, 0 failed, 0 skipped, 1 not run\n"), std::string::npos) << text;
}

// kill -9 leaves a report that says it is not complete and holds the whole
// plan; a listing that fails still leaves a report that says why.
TEST(XrunTest, AReportLeftByAKilledRunSaysSo) {
  TempDir dir;
  const std::string suite = private_suite(dir);
  const std::string json_path = dir.path() + "/r.json";
  const pid_t pid = start_xrun({"test", suite, "--filter", "Hang.*", "--filter", "Pass.*", "-j2", "--json", json_path},
                               environment_with({}));
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_results(json_path, {"Pass.Threads", "Pass.Simple"}, 30));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  const json report = read_json(json_path);
  EXPECT_EQ(report["complete"], false);
  EXPECT_EQ(statuses(report), (std::map<std::string, std::string>{
                                  {"Pass.Simple", "passed"}, {"Pass.Threads", "passed"}, {"Hang.Forever", "not-run"}}));

  auto failed = run_xrun({"test", XRUN_GTEST_SUITE, "--no-cache", "--json", dir.path() + "/f.json"},
                         {.env = environment_with({"XRUN_AARCH64_SYSROOT=/nonexistent/sysroot"})});
  EXPECT_EQ(failed.exit_code, 3) << describe(failed);
  const json listing = read_json(dir.path() + "/f.json");
  EXPECT_EQ(listing["complete"], false);
  EXPECT_TRUE(listing["tests"].empty());
  EXPECT_NE(listing["error"].get<std::string>().find("/nonexistent/sysroot"), std::string::npos) << listing.dump(2);
}

// A test's child that closes its stdio and calls setsid() ends with the
// test (its PID namespace goes), under qemu-user and natively, in both
// isolation modes; and with xrun when xrun is killed.
TEST(XrunTest, NoDescendantOfATestOutlivesIt) {
  for (const std::string target : {"aarch64", "x86_64"}) {
    for (const std::string isolation : {"batch", "process"}) {
      TempDir dir;
      const std::string link = dir.path() + "/mode-orphan";
      std::filesystem::create_symlink(helper(target, "static"), link);
      auto r = run_xrun({"test", link, "--isolation", isolation});
      EXPECT_EQ(r.exit_code, 0) << describe(r);
      // The orphan wrote its pid, so it was started; it runs as the helper
      // did, under its link's name (the pid file's name is in no command
      // line: looking for that found nothing whatever was left).
      EXPECT_TRUE(std::filesystem::exists(link + ".pid")) << target << " " << isolation << ": no orphan was started";
      auto left = processes_outliving(link);
      EXPECT_TRUE(left.empty()) << target << " " << isolation << ": left behind:\n"
                                << (left.empty() ? "" : left.front());
    }
  }
  // Inside the job's PID namespace /proc is the namespace's: /proc/self is
  // the entry getpid() names (with the host's /proc, getpid() said 2 and
  // /proc/2 was another process).
  for (const std::string target : {"aarch64", "x86_64"}) {
    TempDir dir;
    std::filesystem::create_symlink(helper(target, "static"), dir.path() + "/mode-proc-self");
    auto r = run_xrun({"test", dir.path() + "/mode-proc-self"});
    EXPECT_EQ(r.exit_code, 0) << target << ": " << describe(r);
  }
  // xrun killed while the test (and its orphan) still run. (The test is the
  // emulated helper itself: a native script starting it found no binfmt_misc
  // registration in its job, so no orphan was ever started, and this passed.)
  TempDir dir;
  const std::string link = dir.path() + "/mode-orphan-sleep";
  std::filesystem::create_symlink(helper("aarch64", "static"), link);
  const pid_t pid = start_xrun({"test", link}, environment_with({}));
  ASSERT_GT(pid, 0);
  const bool started = wait_for_files_in(dir.path(), [&] { return std::filesystem::exists(link + ".pid"); });
  EXPECT_TRUE(started) << "the orphan was never started";
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  auto left = processes_outliving(link);
  EXPECT_TRUE(left.empty()) << "after kill -9 of xrun: " << (left.empty() ? "" : left.front());
}

// Every option takes exactly its own value: the binary after a pattern is a binary.
TEST(XrunTest, RepeatableOptionsTakeOneValueEach) {
  TempDir dir;
  auto r =
      run_xrun({"test", "--filter", "Pass.*", kSuite, "--exclude", "Pass.Threads", "--json", dir.path() + "/r.json"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(statuses(read_json(dir.path() + "/r.json")),
            (std::map<std::string, std::string>{{"Pass.Simple", "passed"}}));
  auto arches = run_xrun({"binfmt", "status", "--arch", "aarch64", "riscv64"});
  EXPECT_EQ(arches.exit_code, 2) << "one --arch, one value: " << describe(arches);
}

// xrun's own options work before a subcommand (`xrun -v test` is xrun's
// test, not coreutils').
TEST(XrunTest, OptionsBeforeTheSubcommandAreXruns) {
  auto r = run_xrun({"-v", "test", kSuite, "--filter", "Pass.Simple"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("1 passed, 0 failed, 0 skipped"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("xrun: [debug]"), std::string::npos) << r.err;
  TempDir dir;
  dir.write("alt.toml", "[test]\njobs = 1\n");
  auto config = run_xrun({"--config", dir.path() + "/alt.toml", "test", kSuite, "--filter", "Pass.Simple", "--list"});
  EXPECT_EQ(config.exit_code, 0) << describe(config);
  auto wrong = run_xrun({"--backend", "system", "image", "list"});
  EXPECT_EQ(wrong.exit_code, 2) << "an option the subcommand has no use for is its usage error: " << describe(wrong);
  auto program = run_xrun({"-v", "--", "test"});
  EXPECT_NE(program.exit_code, 0) << "after --, test is a program";
}

// A report that cannot be written is an I/O error, with its own status.
TEST(XrunTest, AReportThatCannotBeWrittenIsNotAUsageError) {
  auto r = run_xrun({"test", kSuite, "--filter", "Pass.Simple", "--json", "/nonexistent/dir/r.json"});
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_NE(r.err.find("/nonexistent/dir/r.json"), std::string::npos) << r.err;
}

// fmt registers one CTest test per binary: xrun runs its cases, with the
// CTest test's cwd and environment; --ctest-granularity test keeps CTest's.
TEST(XrunTest, CTestTestsRunningAWholeBinaryBecomeItsCases) {
  TempDir dir;
  auto cases =
      run_xrun({"test", "--ctest", XRUN_GTEST_SUITE_BUILD, "--filter", "Locale.*", "--json", dir.path() + "/c.json"});
  EXPECT_EQ(cases.exit_code, 0) << describe(cases);
  EXPECT_EQ(statuses(read_json(dir.path() + "/c.json")),
            (std::map<std::string, std::string>{{"Locale.CUtf8", "passed"}}))
      << "GTEST_FILTER from the CTest test's ENVIRONMENT applies";
  auto whole = run_xrun({"test", "--ctest", XRUN_GTEST_SUITE_BUILD, "--ctest-granularity", "test", "--filter", "env_*",
                         "--json", dir.path() + "/w.json"});
  EXPECT_EQ(whole.exit_code, 0) << describe(whole);
  EXPECT_EQ(statuses(read_json(dir.path() + "/w.json")),
            (std::map<std::string, std::string>{{"env_locale", "passed"}}));
}

// Listing CTest's tests writes nothing into the user's build directory.
TEST(XrunTest, CTestsOwnFilesInTheBuildAreLeftAlone) {
  const std::string temporary = std::string(XRUN_GTEST_SUITE_BUILD) + "/Testing/Temporary";
  std::filesystem::create_directories(temporary);
  std::ofstream(temporary + "/LastTest.log") << "the user's last ctest run\n";
  std::ofstream(temporary + "/CTestCostData.txt") << "suite_pass 1 0.5\n---\n";
  const auto before = std::filesystem::last_write_time(temporary + "/LastTest.log");
  auto r = run_xrun({"test", "--ctest", XRUN_GTEST_SUITE_BUILD, "--filter", "suite_pass"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  std::ifstream log(temporary + "/LastTest.log"), cost(temporary + "/CTestCostData.txt");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(log)), {}), "the user's last ctest run\n");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(cost)), {}), "suite_pass 1 0.5\n---\n");
  EXPECT_EQ(std::filesystem::last_write_time(temporary + "/LastTest.log"), before);
}

}  // namespace
}  // namespace xrun::testing
