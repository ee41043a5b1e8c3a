// The build systems our users already have, driving xrun as their runner:
// cargo (after `xrun setup cargo`), CMake + CTest (a toolchain file from
// `xrun setup cmake`, both gtest_discover_tests modes), Meson (a cross file
// from `xrun setup meson`).
#include <gtest/gtest.h>

#include <filesystem>

#include "e2e/xrun_runner.h"
#include "support/temp_dir.h"

namespace xrun::testing {
namespace {

const std::string kSource = XRUN_SOURCE_DIR;

TEST(BuildSystems, CargoTestAndRunAfterSetupCargo) {
  TempDir dir;
  const std::string crate = dir.path() + "/crate";
  std::filesystem::copy(kSource + "/tests/fixtures/rust_sample", crate, std::filesystem::copy_options::recursive);
  // A GNU triple is accepted too.
  auto setup = run_xrun({"setup", "cargo", "--target", "aarch64-linux-gnu", "--project", crate});
  ASSERT_EQ(setup.exit_code, 0) << describe(setup);
  EXPECT_NE(setup.out.find("added [target.aarch64-unknown-linux-gnu] with runner and linker"), std::string::npos)
      << setup.out;
  EXPECT_NE(setup.out.find("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="), std::string::npos);
  RunOptions options{.cwd = crate,
                     .env = environment_with({"RUSTC=/usr/bin/rustc", "CARGO_HOME=" + dir.path() + "/home",
                                              "CARGO_TARGET_DIR=" + dir.path() + "/target", "CARGO_TERM_COLOR=never",
                                              "RUSTUP_TOOLCHAIN"}),
                     .timeout_seconds = 600};
  auto test = run({"/usr/bin/cargo", "test", "--offline", "--target", "aarch64-unknown-linux-gnu"}, options);
  EXPECT_EQ(test.exit_code, 0) << describe(test);
  EXPECT_NE(test.out.find("test result: ok. 5 passed; 0 failed; 1 ignored"), std::string::npos) << describe(test);
  auto run_bin =
      run({"/usr/bin/cargo", "run", "--offline", "--target", "aarch64-unknown-linux-gnu", "--", "a", "b c"}, options);
  EXPECT_EQ(run_bin.exit_code, 2) << describe(run_bin);
  EXPECT_EQ(run_bin.out, "rust_sample on aarch64: a b c\n");
}

TEST(BuildSystems, CMakeToolchainFromSetupThenCTestInBothDiscoveryModes) {
  TempDir dir;
  const std::string toolchain = dir.path() + "/aarch64.cmake";
  auto setup = run_xrun({"setup", "cmake", "--target", "aarch64", "-o", toolchain});
  ASSERT_EQ(setup.exit_code, 0) << describe(setup);
  const std::string build = dir.path() + "/build";
  for (const std::string mode : {"POST_BUILD", "PRE_TEST"}) {
    auto configure = run({"cmake", "-S", kSource + "/examples/cpp", "-B", build, "-G", "Ninja",
                          "-DCMAKE_TOOLCHAIN_FILE=" + toolchain, "-DXRUN_DISCOVERY_MODE=" + mode},
                         {.timeout_seconds = 300});
    ASSERT_EQ(configure.exit_code, 0) << describe(configure);
    auto compile = run({"cmake", "--build", build}, {.timeout_seconds = 600});
    ASSERT_EQ(compile.exit_code, 0) << describe(compile);
    auto ctest = run({"ctest", "--test-dir", build, "-j2", "--output-on-failure"}, {.timeout_seconds = 300});
    EXPECT_EQ(ctest.exit_code, 0) << mode << "\n" << describe(ctest);
    EXPECT_NE(ctest.out.find("100% tests passed, 0 tests failed out of 4"), std::string::npos) << mode << ctest.out;
  }
}

TEST(BuildSystems, MesonTestThroughTheCrossFilesExeWrapper) {
  TempDir dir;
  const std::string cross = dir.path() + "/aarch64.ini";
  auto setup = run_xrun({"setup", "meson", "--target", "aarch64-unknown-linux-gnu", "--output", cross});
  ASSERT_EQ(setup.exit_code, 0) << describe(setup);
  const std::string build = dir.path() + "/build";
  auto configure = run({"meson", "setup", "--cross-file", cross, build, kSource + "/tests/fixtures/meson_sample"},
                       {.timeout_seconds = 300});
  ASSERT_EQ(configure.exit_code, 0) << describe(configure);
  auto test = run({"meson", "test", "-C", build, "--print-errorlogs"}, {.timeout_seconds = 300});
  EXPECT_EQ(test.exit_code, 0) << describe(test);
  EXPECT_NE(test.out.find("Ok:                 3"), std::string::npos) << test.out;
}

}  // namespace
}  // namespace xrun::testing
