// Bad input ends in one clear "xrun: error:" line and a documented exit
// status -- never a crash, a hang, a stack trace, or output on stdout.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/fs_util.h"
#include "e2e/xrun_runner.h"
#include "support/temp_dir.h"

namespace xrun::testing {
namespace {

void expect_error(const RunResult& r, int code, const std::string& fragment) {
  ASSERT_TRUE(r.exited) << describe(r);
  EXPECT_EQ(r.exit_code, code) << describe(r);
  EXPECT_EQ(r.out, "") << "errors never go to stdout";
  EXPECT_EQ(r.err.rfind("xrun: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
}

TEST(BadInput, MissingProgramIs127) {
  expect_error(run_xrun({"/nonexistent/prog"}), 127, "/nonexistent/prog: no such file");
  expect_error(run_xrun({"no-such-command-xrun"}), 127, "no-such-command-xrun: command not found");
}

TEST(BadInput, DirectoryAndNonElfAre126) {
  TempDir dir;
  expect_error(run_xrun({dir.path()}), 126, "is a directory");
  expect_error(run_xrun({dir.write("notes.txt", "hello\n", true)}), 126, "not an ELF executable");
  expect_error(run_xrun({dir.write("empty", "", true)}), 126, "not an ELF executable");
}

TEST(BadInput, TruncatedAndCorruptElfAre126) {
  TempDir dir;
  const std::string bytes = *read_file(helper("aarch64", "dynamic"));
  expect_error(run_xrun({dir.write("truncated", bytes.substr(0, 200), true)}), 126, "truncated");
  std::string corrupt = bytes;
  corrupt[5] = 9;
  expect_error(run_xrun({dir.write("corrupt", corrupt, true)}), 126, "unknown byte order 9");
  // Whole headers, but the segments run past the end: qemu would map them
  // and the program die of SIGBUS; xrun says so before it starts.
  expect_error(run_xrun({dir.write("cut", bytes.substr(0, 30000), true)}), 126, "truncated ELF file: segment");
  auto in_test = run_xrun({"test", dir.path() + "/cut", "--json", dir.path() + "/r.json"});
  EXPECT_EQ(in_test.exit_code, 3) << "an infra error, not a crash: " << describe(in_test);
}

// qemu settings qemu would refuse are configuration errors that say which
// key and what qemu has, checked once per qemu build and value.
TEST(BadInput, QemuSettingsAreCheckedAgainstTheQemuThatRunsThem) {
  TempDir cache;
  const std::string program = helper("aarch64", "static");
  auto cpu = run_xrun({program, "exit", "0"},
                      {.env = environment_with({"XDG_CACHE_HOME=" + cache.path(), "XRUN_AARCH64_CPU=nonsense"})});
  expect_error(cpu, 2, "targets.aarch64.cpu: qemu-aarch64 has no CPU model \"nonsense\" (it has: a64fx,");
  auto args = run_xrun({program, "exit", "0"},
                       {.env = environment_with({"XDG_CACHE_HOME=" + cache.path(), "XRUN_AARCH64_QEMU_ARGS=--bogus"})});
  expect_error(args, 2, "targets.aarch64.qemu_args: qemu-aarch64 refuses \"--bogus\"");
  for (int again = 0; again < 2; ++again) {  // the second time from the cache
    auto fine = run_xrun({program, "exit", "3"},
                         {.env = environment_with({"XDG_CACHE_HOME=" + cache.path(), "XRUN_AARCH64_CPU=cortex-a57",
                                                   "XRUN_AARCH64_QEMU_ARGS=-d unimp"})});
    EXPECT_EQ(fine.exit_code, 3) << describe(fine);
  }
}

// Large configurations cost linear time: 300,000 environment entries (on
// 29a5cf7 setting them was quadratic: 40,000 took 3.3 s, these would take
// minutes and hit the run's 60 s limit). Too many to pass to execve, which
// xrun reports as such.
TEST(BadInput, AHugeEnvironmentTableIsReadInLinearTime) {
  TempDir dir;
  std::string toml = "[targets.aarch64.env]\n";
  for (int i = 0; i < 300000; ++i) toml += "K" + std::to_string(i) + " = \"v" + std::to_string(i) + "\"\n";
  const std::string config = dir.write("xrun.toml", toml);
  auto r = run_xrun({"--config", config, helper("aarch64", "static"), "exit", "3"});
  EXPECT_FALSE(r.timed_out) << "quadratic again?";
  expect_error(r, 126, "Argument list too long");
}

// Too few descriptors for xrun test's event loop: the environment's fault,
// an infra error that says what to raise (it was "internal error", 126).
TEST(BadInput, TooFewOpenFilesIsAnInfraError) {
  auto r = run({"/bin/sh", "-c", "ulimit -n 6 && exec \"$0\" test /bin/true", xrun_binary()});
  expect_error(r, 3, "ulimit -n");
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
}

TEST(BadInput, NotExecutableIsPermissionDenied) {
  TempDir dir;
  const std::string copy = dir.write("prog", *read_file(helper("aarch64", "static")), false);
  expect_error(run_xrun({copy}), 126, "permission denied");
}

TEST(BadInput, ScriptsRunNativelyLikeTheKernelWould) {
  TempDir dir;
  auto r = run_xrun({dir.write("s.sh", "#!/bin/sh\necho \"$0 $1\"\nexit 5\n", true), "arg"});
  EXPECT_EQ(r.exit_code, 5) << describe(r);
  EXPECT_EQ(r.out, dir.path() + "/s.sh arg\n");
}

TEST(BadInput, UsageErrorsAre2) {
  expect_error(run_xrun({}), 2, "usage");
  expect_error(run_xrun({"--verbos", helper("aarch64", "static")}), 2, "did you mean \"--verbose\"?");
  expect_error(run_xrun({"--target"}), 2, "--target needs a value");
  expect_error(run_xrun({"--target", "aarch46", helper("aarch64", "static")}), 2, "did you mean \"aarch64\"?");
  expect_error(run_xrun({"-v"}), 2, "no program to run");
}

TEST(BadInput, WrongArchitectureForTargetIs126) {
  expect_error(run_xrun({"--target=armhf", helper("aarch64", "static")}), 126, "built for aarch64, not for armhf");
}

TEST(BadInput, BareMetalIs126) {
  TempDir dir;
  std::string image = *read_file(XRUN_BARE_METAL_ELF);
  expect_error(run_xrun({dir.write("fw.elf", image, true)}), 126, "bare-metal");
  // Real firmware (newlib, semihosting), linked below any page Linux maps:
  // bare metal, not a corrupt program.
  const std::string newlib = dir.write("newlib.elf", *read_file(XRUN_PROBE_FIRMWARE), true);
  expect_error(run_xrun({newlib}), 126, "bare-metal firmware needs a machine model");
}

// A Windows program or a WebAssembly module is recognised, and refused with
// what it is until a backend runs it: by a single run and by `xrun test`
// alike, before anything starts.
TEST(BadInput, WindowsProgramsAndWasmModulesAre126SayingWhatTheyAre) {
  TempDir dir;
  const std::string exe = dir.write("app.exe", *read_file(XRUN_PROBE_PE_EXE), true);
  const std::string wasm = dir.write("app.wasm", *read_file(XRUN_PROBE_WASM), true);
  expect_error(run_xrun({exe}), 126,
               exe + " is a Windows PE x86-64 program (console); no backend runs Windows programs yet");
  expect_error(run_xrun({"--backend", "system", exe}), 126, "no backend runs Windows programs yet");
  expect_error(run_xrun({wasm}), 126,
               wasm + " is a WebAssembly module (wasm32, WASI preview 1); no backend runs WebAssembly modules yet");
  expect_error(run_xrun({"test", wasm, "--json", dir.path() + "/r.json"}), 126,
               "no backend runs WebAssembly modules yet");
  expect_error(run_xrun({"test", helper("aarch64", "static"), exe}), 126, "no backend runs Windows programs yet");
  EXPECT_NE(read_file(dir.path() + "/r.json").value_or("").find("no backend runs WebAssembly modules yet"),
            std::string::npos)
      << "the report says why nothing ran";
}

TEST(BadInput, BrokenConfigReportsEveryProblemWithPositions) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.aarch64]\nsysrot = \"/x\"\ncpu = 3\n");
  auto r = run_xrun({helper("aarch64", "static"), "exit", "0"}, {.cwd = dir.path()});
  expect_error(r, 2,
               dir.path() + "/xrun.toml:2:1: unknown key \"sysrot\" in [targets.aarch64], did you mean \"sysroot\"?");
  EXPECT_NE(r.err.find("\nxrun: error: " + dir.path() + "/xrun.toml:3:7: \"cpu\" must be a string"), std::string::npos)
      << r.err;
}

TEST(BadInput, MissingQemuNamesThePackage) {
  RunOptions options;
  options.env = environment_with({"PATH=/nonexistent"});
  expect_error(run_xrun({helper("riscv64", "static")}, options), 126, "qemu-riscv64 not found, needed to run");
  auto r = run_xrun({helper("riscv64", "static")}, options);
  EXPECT_NE(r.err.find("install qemu-user (apt-get install qemu-user)"), std::string::npos) << r.err;
}

TEST(BadInput, MissingSysrootNamesTheFix) {
  RunOptions options;
  options.env = environment_with({"XRUN_ARMHF_SYSROOT=/nonexistent/sysroot"});
  expect_error(run_xrun({helper("armhf", "dynamic")}, options), 126,
               "the configured sysroot for armhf, /nonexistent/sysroot, does not exist");
  // A static program needs no sysroot at all.
  auto r = run_xrun({helper("armhf", "static"), "exit", "0"}, options);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

}  // namespace
}  // namespace xrun::testing
