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

// Every backend has its section, from its row: what the host runs itself,
// the qemu-user targets, the VMs, and the boards (where each is and which
// targets name it; nothing is contacted).
TEST(Doctor, EveryBackendHasItsSection) {
  TempDir dir;
  dir.write("xrun.toml",
            "[boards.pi4]\nhost = \"pi4.local\"\nport = 2222\nuser = \"ci\"\narch = \"aarch64\"\nmax_jobs = 2\n"
            "[targets.aarch64]\nbackend = \"board\"\nboards = [\"pi4\"]\n");
  auto r = run_xrun({"doctor"}, {.cwd = dir.path()});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("\nNATIVE (programs the host runs itself, whatever --backend says)\nx86_64    host ("),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\nQEMU-USER (--backend qemu-user, the default for foreign programs)\n"
                       "static and dynamic programs: aarch64, armhf, "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\nSYSTEM MODE (--backend system)\naarch64  "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nBOARDS (--backend board)\npi4      ci@pi4.local:2222 (aarch64), 2 jobs at once, for "
                       "aarch64 (configured)\n"),
            std::string::npos)
      << r.out;
  auto other = run_xrun({"doctor", "--target", "armhf"}, {.cwd = dir.path()});
  EXPECT_NE(other.out.find("\nBOARDS (--backend board)\nnone for armhf\n"), std::string::npos) << other.out;
  auto none = run_xrun({"doctor"});
  EXPECT_NE(none.out.find("\nBOARDS (--backend board)\nnone configured"), std::string::npos) << none.out;
}

}  // namespace
}  // namespace xrun::testing
