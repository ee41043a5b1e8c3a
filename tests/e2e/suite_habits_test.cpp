// What real third-party suites do that a test runner must allow, each
// reproduced by the env_tests fixture (tests/fixtures/gtest_suite/env_test.cpp)
// after the suite that showed it: fmt's tests sharing a fixed temporary name
// and ./temp, CLI tests and death tests running foreign programs, yaml-cpp's
// C.UTF-8 locale test. Under real qemu-user and in a real VM.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "e2e/xrun_runner.h"
#include "support/report_json.h"
#include "support/temp_dir.h"

namespace xrun::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kEnvTests = XRUN_GTEST_ENV;

std::map<std::string, std::string> run_env_tests(const TempDir& dir, std::vector<std::string> flags,
                                                 std::vector<std::string> env = {}, RunResult* result = nullptr) {
  std::vector<std::string> args = {"test", kEnvTests, "--json", dir.path() + "/r.json", "--no-cache"};
  args.insert(args.end(), flags.begin(), flags.end());
  env.push_back("XRUN_FIXTURE_HELPER=" + helper("aarch64", "dynamic"));
  auto r = run_xrun(args, {.cwd = dir.path(), .env = environment_with(env), .timeout_seconds = 240});
  if (result) *result = r;
  EXPECT_TRUE(r.exited) << describe(r);
  return statuses(read_json(dir.path() + "/r.json"));
}

std::map<std::string, std::string> all(const std::vector<std::string>& names, const std::string& status) {
  std::map<std::string, std::string> out;
  for (const auto& n : names) out[n] = status;
  return out;
}

// Two shards of one binary at once: each job has a TMPDIR of its own, empty,
// and gone when the job ends.
TEST(SuiteHabits, EveryJobHasATmpdirOfItsOwn) {
  for (const std::string backend : {"qemu-user", "system"}) {
    for (const std::string isolation : {"batch", "process"}) {
      TempDir dir;
      RunResult r;
      auto s = run_env_tests(dir, {"--filter", "Tmp.*", "-j2", "--backend", backend, "--isolation", isolation}, {}, &r);
      EXPECT_EQ(s, all({"Tmp.IsPrivateAndEmpty", "Tmp.FixedNameA", "Tmp.FixedNameB"}, "passed"))
          << backend << " " << isolation << ": " << r.out;
      if (backend != "qemu-user") continue;
      const json report = read_json(dir.path() + "/r.json");  // a named object: the loop below refers into it
      int checked = 0;
      for (const auto& t : report["tests"]) {
        const std::string output = t["output"];
        const auto at = output.find("TMPDIR=");
        if (at == std::string::npos) continue;
        const std::string tmp = output.substr(at + 7, output.find('\n', at) - at - 7);
        EXPECT_FALSE(fs::exists(tmp)) << tmp << " outlived its job";
        ++checked;
      }
      EXPECT_EQ(checked, 1) << "Tmp.IsPrivateAndEmpty prints its TMPDIR";
    }
  }
}

// fmt's posix-mock-test writes ./temp from several tests: a test group with
// max_jobs = 1 keeps them from running at the same time.
TEST(SuiteHabits, AGroupKeepsTestsThatShareAFileApart) {
  TempDir dir;
  dir.write("xrun.toml", "[groups.shares-cwd]\nfilter = [\"Cwd.*\"]\nmax_jobs = 1\n");
  for (const std::string isolation : {"batch", "process"}) {
    RunResult r;
    auto s = run_env_tests(dir, {"--filter", "Cwd.*", "-j4", "--isolation", isolation}, {}, &r);
    EXPECT_EQ(s, all({"Cwd.TempA", "Cwd.TempB", "Cwd.TempC", "Cwd.TempD"}, "passed")) << isolation << ": " << r.out;
  }
}

// A foreign program that runs another foreign program: fork+exec,
// posix_spawn, system() through the host's shell, gtest's threadsafe death
// tests. No global binfmt_misc registration is needed.
TEST(SuiteHabits, ForeignProgramsStartForeignPrograms) {
  auto status = run_xrun({"binfmt", "status"});
  for (const std::string isolation : {"batch", "process"}) {
    TempDir dir;
    RunResult r;
    auto s = run_env_tests(dir, {"--filter", "Exec.*", "-j2", "--isolation", isolation}, {}, &r);
    EXPECT_EQ(s, all({"Exec.ForkExec", "Exec.PosixSpawn", "Exec.System", "Exec.ThreadsafeDeathTest"}, "passed"))
        << isolation << ":\n"
        << r.out << "\nbinfmt: " << status.out;
  }
  // The same for a single run: an aarch64 program exec'ing an aarch64 program,
  // and one of another architecture.
  auto single = run_xrun({helper("aarch64", "static"), "exec", helper("aarch64", "dynamic"), "exit", "5"});
  EXPECT_EQ(single.exit_code, 5) << describe(single);
  auto other = run_xrun({helper("aarch64", "dynamic"), "exec", helper("riscv64", "static"), "exit", "6"});
  EXPECT_EQ(other.exit_code, 6) << describe(other);
  // It keeps the program's cwd (entering a mount namespace moves it to /).
  TempDir dir;
  auto cwd = run_xrun({helper("aarch64", "dynamic"), "cwd"}, {.cwd = dir.path()});
  EXPECT_EQ(cwd.out, fs::canonical(dir.path()).string() + "\n") << describe(cwd);
}

// yaml-cpp's RobustAgainstLocale: the VM has the C.UTF-8 locale Debian's libc ships.
TEST(SuiteHabits, TheVmHasTheCUtf8Locale) {
  TempDir dir;
  RunResult r;
  auto s = run_env_tests(dir, {"--filter", "Locale.*", "--backend", "system"}, {"LANG=C.UTF-8"}, &r);
  EXPECT_EQ(s, all({"Locale.CUtf8"}, "passed")) << r.out;
}

// A binary whose static initialisers take longer than the VM watchdog's
// patience (10 s): the agent keeps answering while its fork server starts.
TEST(SuiteHabits, ASlowStartingBinaryIsNotTakenForAHungVm) {
  TempDir dir;
  RunResult r;
  auto s = run_env_tests(dir, {"--filter", "Locale.*", "--backend", "system", "--isolation", "process"},
                         {"XRUN_FIXTURE_SLOW_INIT=12"}, &r);
  EXPECT_EQ(s, all({"Locale.CUtf8"}, "passed")) << r.out;
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

}  // namespace
}  // namespace xrun::testing
