// xrun registered with binfmt_misc: foreign programs run when executed
// directly, with argv[0] preserved, including one foreign program executing
// another; uninstall restores the previous state. Needs root (CI runs as
// root); mounts binfmt_misc for the test if it is not, and unmounts it after.
// Registration is machine-wide, so this is ONE test case: ctest runs test
// cases in parallel, and two of them would uninstall under each other.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>

#include "core/fs_util.h"
#include "e2e/xrun_runner.h"

namespace xrun::testing {
namespace {

constexpr const char* kDir = "/proc/sys/fs/binfmt_misc";

class Binfmt : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "binfmt_misc registration needs root (CI runs as root)";
    if (!path_exists(std::string(kDir) + "/register")) {
      ASSERT_EQ(::mount("binfmt_misc", kDir, "binfmt_misc", 0, nullptr), 0) << std::strerror(errno);
      mounted_ = true;
    }
    before_ = run_xrun({"binfmt", "status"}).out;
  }
  void TearDown() override {
    run_xrun({"binfmt", "uninstall"});
    if (mounted_) ::umount(kDir);
  }
  bool mounted_ = false;
  std::string before_;
};

TEST_F(Binfmt, ForeignProgramsRunDirectlyAndUninstallRestores) {
  auto install = run_xrun({"binfmt", "install", "--arch", "aarch64", "--arch", "armhf"});
  ASSERT_EQ(install.exit_code, 0) << describe(install);
  EXPECT_NE(install.out.find("xrun-aarch64: registered for aarch64 -> " + xrun_binary()), std::string::npos)
      << install.out;
  EXPECT_NE(install.out.find("xrun-arm: registered for armhf, armel"), std::string::npos) << install.out;
  auto again = run_xrun({"binfmt", "install", "--arch", "aarch64"});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("xrun-aarch64: already registered"), std::string::npos) << again.out;

  // Executed directly: the kernel starts xrun; argv[0] is the program's own.
  auto direct = run({"./xrun_helper-aarch64-dynamic", "argv", "a b", ""}, {.cwd = XRUN_HELPER_DIR});
  EXPECT_EQ(direct.exit_code, 0) << describe(direct);
  EXPECT_EQ(direct.out, "0:29:./xrun_helper-aarch64-dynamic\n1:4:argv\n2:3:a b\n3:0:\n");
  EXPECT_EQ(run({helper("aarch64", "static"), "exit", "42"}).exit_code, 42);
  auto crash = run({helper("aarch64", "dynamic"), "signal", "SEGV"});
  EXPECT_EQ(crash.signal, SIGSEGV) << describe(crash);
  // A foreign program executing another foreign program (aarch64 -> armel).
  auto chain = run({helper("aarch64", "dynamic"), "exec", helper("armel", "static"), "exit", "7"});
  EXPECT_EQ(chain.exit_code, 7) << describe(chain);

  auto status = run_xrun({"binfmt", "status"});
  EXPECT_NE(status.out.find("xrun-aarch64 (aarch64): registered -> " + xrun_binary() + " (flags PF)"),
            std::string::npos)
      << status.out;

  auto uninstall = run_xrun({"binfmt", "uninstall"});
  EXPECT_EQ(uninstall.exit_code, 0);
  EXPECT_NE(uninstall.out.find("xrun-aarch64: removed"), std::string::npos);
  EXPECT_EQ(run_xrun({"binfmt", "status"}).out, before_) << "uninstall must restore the previous state";
  auto gone = run({helper("aarch64", "static"), "exit", "0"});
  EXPECT_NE(gone.exit_code, 0) << "no longer runnable directly";

  auto r = run_xrun({"binfmt", "install", "--arch", "aarch46"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean \"aarch64\"?"), std::string::npos) << r.err;
  auto native = run_xrun({"binfmt", "install", "--arch", "x86_64"});
  EXPECT_EQ(native.exit_code, 2);
  EXPECT_NE(native.err.find("runs those targets natively"), std::string::npos) << native.err;
}

}  // namespace
}  // namespace xrun::testing
