#include <gtest/gtest.h>

#include "e2e/xrun_runner.h"
#include "support/temp_dir.h"

namespace xrun::testing {
namespace {

TEST(Doctor, ListsEveryTargetWithWhatItUses) {
  auto r = run_xrun({"doctor"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("aarch64   /usr/bin/qemu-aarch64 7."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/usr/aarch64-linux-gnu (cross sysroot)"), std::string::npos) << r.out;
  for (const auto& target : cross_targets()) EXPECT_NE(r.out.find("\n" + target + " "), std::string::npos) << target;
  EXPECT_NE(r.out.find("x86_64    native"), std::string::npos) << r.out;
}

TEST(Doctor, ConfiguredButUnusableTargetFailsAndSaysWhy) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.riscv64]\nqemu = \"qemu-riscv64-missing\"\n");
  auto r = run_xrun({"doctor"}, {.cwd = dir.path()});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_NE(r.out.find("riscv64: qemu-riscv64-missing not found: apt-get install qemu-user"), std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("xrun: error: target riscv64 is configured but cannot run dynamic programs"), std::string::npos);
}

TEST(Doctor, AskingAboutOneTarget) {
  auto r = run_xrun({"doctor", "--target", "armv7-unknown-linux-gnueabihf"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("armhf "), std::string::npos);
  EXPECT_EQ(r.out.find("aarch64 "), std::string::npos);
  auto bad = run_xrun({"doctor", "--target", "armhx"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("did you mean \"armhf\"?"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace xrun::testing
