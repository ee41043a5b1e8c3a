// The single-run contract, end to end: the built xrun runs real cross-built
// programs under real qemu-user, for every target, static and dynamic, and
// nothing about the run differs from a native one.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "e2e/xrun_runner.h"
#include "launch/launcher.h"
#include "support/temp_dir.h"
#include "target/target_table.h"

namespace xrun::testing {
namespace {

struct Case {
  std::string target;
  std::string linkage;
};

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const auto& target : cross_targets())
    for (const std::string linkage : {"dynamic", "static"}) cases.push_back({target, linkage});
  return cases;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.target << "/" << c.linkage; }

class RunContract : public ::testing::TestWithParam<Case> {
 protected:
  std::string program() const { return helper(GetParam().target, GetParam().linkage); }
  RunResult run_helper(std::vector<std::string> args, RunOptions options = {}) {
    args.insert(args.begin(), program());
    return run_xrun(args, options);
  }
};

TEST_P(RunContract, ExitCodesPassThrough) {
  for (int code : {0, 1, 2, 42, 125, 126, 127, 128, 255}) {
    auto r = run_helper({"exit", std::to_string(code)});
    ASSERT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, code) << describe(r);
    EXPECT_EQ(r.err, "") << "xrun must add nothing to a clean run";
  }
}

TEST_P(RunContract, SignalsAreReRaised) {
  const std::vector<std::pair<std::string, int>> signals = {{"SEGV", SIGSEGV}, {"ABRT", SIGABRT}, {"ILL", SIGILL},
                                                            {"BUS", SIGBUS},   {"KILL", SIGKILL}, {"TERM", SIGTERM}};
  for (const auto& [name, number] : signals) {
    auto r = run_helper({"signal", name});
    EXPECT_FALSE(r.exited) << name << ": " << describe(r);
    EXPECT_EQ(r.signal, number) << name << ": " << describe(r);
  }
}

TEST_P(RunContract, ThreadsFinish) {
  auto r = run_helper({"threads", "16"}, {.timeout_seconds = 60});
  ASSERT_FALSE(r.timed_out) << "the -L hang: loader and libc from different glibc builds";
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "threads ok 16\n");
}

TEST_P(RunContract, StdinReachesTheProgram) {
  std::string data;
  for (int i = 0; i < 20000; ++i) data += "line " + std::to_string(i) + " \x01\xff\n";
  auto r = run_helper({"cat"}, {.stdin_data = data});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, data);
}

TEST_P(RunContract, ArgvArrivesByteForByte) {
  const std::vector<std::string> args = {"a b",    "",   "\"quoted\"", "$HOME",     "it's",
                                         "--help", "-L", "*",          "tab\there", "ü"};
  std::vector<std::string> call = {"argv"};
  call.insert(call.end(), args.begin(), args.end());
  auto r = run_helper(call);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::string expected = "0:" + std::to_string(program().size()) + ":" + program() + "\n1:4:argv\n";
  for (std::size_t i = 0; i < args.size(); ++i)
    expected += std::to_string(i + 2) + ":" + std::to_string(args[i].size()) + ":" + args[i] + "\n";
  EXPECT_EQ(r.out, expected);
}

TEST_P(RunContract, EnvironmentPassesAndQemuVariablesDoNotLeak) {
  RunOptions options;
  // QEMU_RAND_SEED configures qemu-user (it seeds the guest's AT_RANDOM).
  options.env = environment_with({"APP_VALUE=with space and = sign", "QEMU_RAND_SEED=7"});
  auto r = run_helper({"env"}, options);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(("\n" + r.out).find("\nAPP_VALUE=with space and = sign\n"), std::string::npos) << r.out;
  if (GetParam().target == "i686" && host_runs_target(*TargetTable::builtin().find("i686"))) {
    // Runs natively on an x86_64 host whose kernel runs 32-bit programs: no
    // qemu, so nothing to hide.
    EXPECT_NE(r.out.find("QEMU_RAND_SEED=7"), std::string::npos) << r.out;
  } else {
    EXPECT_EQ(r.out.find("QEMU_"), std::string::npos) << "qemu's variables leaked:\n" << r.out;
  }
}

TEST_P(RunContract, CwdAndRelativeFilesAreTheCallers) {
  TempDir dir;
  dir.write("fixtures/input.txt", "fixture content\n");
  auto cwd = run_helper({"cwd"}, {.cwd = dir.path()});
  EXPECT_EQ(cwd.out, dir.path() + "\n") << describe(cwd);
  auto read = run_helper({"read", "fixtures/input.txt"}, {.cwd = dir.path()});
  EXPECT_EQ(read.out, "fixture content\n") << describe(read);
  auto write = run_helper({"write", "out.txt", "written by the target"}, {.cwd = dir.path()});
  EXPECT_EQ(write.exit_code, 0) << describe(write);
  std::ifstream written(dir.path() + "/out.txt");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(written), {}), "written by the target");
}

TEST_P(RunContract, StdoutAndStderrStaySeparate) {
  auto r = run_helper({"stderr", "to stderr only"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "to stderr only\n");
  auto spew = run_helper({"spew", "5000000"});
  EXPECT_EQ(spew.out.size(), 5000000u);
}

TEST_P(RunContract, ProcSelfExeIsTheProgram) {
  auto r = run_helper({"exe"});
  EXPECT_EQ(r.out, program() + "\n") << describe(r);
}

INSTANTIATE_TEST_SUITE_P(Targets, RunContract, ::testing::ValuesIn(all_cases()),
                         [](const auto& test) { return test.param.target + "_" + test.param.linkage; });

TEST(RunContractSweep, EveryExitCodeFrom0To255) {
  for (int code = 0; code <= 255; ++code) {
    auto r = run_xrun({helper("aarch64", "static"), "exit", std::to_string(code)});
    ASSERT_TRUE(r.exited) << describe(r);
    ASSERT_EQ(r.exit_code, code) << describe(r);
  }
}

TEST(RunContractHost, HostProgramRunsNativelyWithItsStatus) {
  auto r = run_xrun({host_helper(), "exit", "9"});
  EXPECT_EQ(r.exit_code, 9) << describe(r);
  auto v = run_xrun({"--verbose", host_helper(), "exit", "0"});
  EXPECT_NE(v.err.find("xrun: [debug] exec: " + host_helper() + " exit 0"), std::string::npos) << v.err;
}

TEST(RunContractHost, VerboseShowsTheQemuCommand) {
  auto r = run_xrun({"-v", helper("aarch64", "dynamic"), "exit", "0"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.err.find("xrun: [debug] exec: qemu-aarch64 -L "), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  RunOptions quiet;
  quiet.env = environment_with({"XRUN_LOG=debug"});
  auto logged = run_xrun({helper("aarch64", "dynamic"), "exit", "0"}, quiet);
  EXPECT_NE(logged.err.find("exec: qemu-aarch64"), std::string::npos) << logged.err;
}

}  // namespace
}  // namespace xrun::testing
