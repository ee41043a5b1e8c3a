// xrun as Cargo's runner: Debian's cargo cross-builds a crate for
// aarch64-unknown-linux-gnu and runs its libtest binary through xrun, with
// the default (multi-threaded) test harness.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "e2e/xrun_runner.h"
#include "support/temp_dir.h"

namespace xrun::testing {
namespace {

class CargoRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::copy(std::string(XRUN_SOURCE_DIR) + "/tests/fixtures/rust_sample", crate(),
                          std::filesystem::copy_options::recursive);
  }
  std::string crate() const { return dir_.path() + "/rust_sample"; }
  RunResult cargo_test(std::vector<std::string> extra_env = {}) {
    // Debian's toolchain, which has the arm64 standard library; a rustup
    // toolchain earlier in PATH has only the host target.
    std::vector<std::string> env = {
        "RUSTC=/usr/bin/rustc",
        "CARGO_HOME=" + dir_.path() + "/cargo-home",
        "CARGO_TARGET_DIR=" + dir_.path() + "/target",
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc",
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=" + xrun_binary(),
        "CARGO_TERM_COLOR=never",
        "RUSTUP_TOOLCHAIN",
    };
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    RunOptions options;
    options.cwd = crate();
    options.env = environment_with(env);
    options.timeout_seconds = 600;
    return run({"/usr/bin/cargo", "test", "--offline", "--target", "aarch64-unknown-linux-gnu"}, options);
  }
  TempDir dir_;
};

TEST_F(CargoRunner, LibtestSummaryComesOutRight) {
  auto r = cargo_test();
  ASSERT_FALSE(r.timed_out) << describe(r);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("test result: ok. 5 passed; 0 failed; 1 ignored"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("Running unittests src/lib.rs"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("xrun:"), std::string::npos) << "xrun must say nothing on a good run:\n" << r.err;
}

TEST_F(CargoRunner, CrashIsReportedAsTheSignalByCargo) {
  auto r = cargo_test({"SAMPLE_CRASH=1"});
  ASSERT_FALSE(r.timed_out) << describe(r);
  EXPECT_NE(r.exit_code, 0);
  // Cargo reports a runner that died of a signal this way; it can only do so
  // if xrun (really qemu, which xrun became) died of SIGSEGV itself.
  EXPECT_NE(r.err.find("signal: 11, SIGSEGV"), std::string::npos) << describe(r);
}

}  // namespace
}  // namespace xrun::testing
