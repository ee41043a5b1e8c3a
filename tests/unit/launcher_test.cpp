// plan_launch on real cross-built programs: what xrun would exec, checked
// without running it (the end-to-end tests run it).
#include "launch/launcher.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/fs_util.h"
#include "support/paths.h"
#include "support/temp_dir.h"

using namespace xrun;
using xrun::testing::helper;
using xrun::testing::TempDir;

namespace {

class Launcher : public ::testing::Test {
 protected:
  Expected<LaunchPlan> plan(RunRequest request, std::vector<std::string> env = {"PATH=/usr/bin:/bin"},
                            Config config = {}) {
    return plan_launch(request, config, TargetTable::builtin(), OverlayStore(cache_.path()), env);
  }
  static bool contains(const std::vector<std::string>& v, const std::vector<std::string>& run) {
    return std::search(v.begin(), v.end(), run.begin(), run.end()) != v.end();
  }
  TempDir cache_;
};

TEST_F(Launcher, DynamicCrossProgramRunsUnderQemuWithOverlay) {
  const std::string program = helper("aarch64", "dynamic");
  auto p = plan({program, {"argv", "a b"}});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->emulated);
  EXPECT_EQ(p->target, "aarch64");
  EXPECT_EQ(p->executable, "/usr/bin/qemu-aarch64");
  ASSERT_GE(p->argv.size(), 5u);
  EXPECT_EQ(p->argv[0], "qemu-aarch64");
  EXPECT_TRUE(contains(p->argv, {"-L", p->sysroot.qemu_prefix}));
  EXPECT_EQ(p->sysroot.layout, SysrootLayout::Cross);
  // The program and its arguments come last, untouched, and argv[0] needs no -0.
  EXPECT_TRUE(std::equal(p->argv.end() - 3, p->argv.end(), std::vector<std::string>{program, "argv", "a b"}.begin()));
  EXPECT_EQ(std::find(p->argv.begin(), p->argv.end(), "-0"), p->argv.end());
}

TEST_F(Launcher, StaticProgramNeedsNoSysroot) {
  auto p = plan({helper("riscv64", "static"), {}});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(std::find(p->argv.begin(), p->argv.end(), "-L"), p->argv.end());
}

TEST_F(Launcher, QemuVariablesAreHiddenFromTheProgram) {
  auto p = plan({helper("armhf", "dynamic"), {}}, {"PATH=/usr/bin", "QEMU_STRACE=1", "QEMUX=kept"});
  ASSERT_TRUE(p);
  EXPECT_TRUE(contains(p->argv, {"-U", "QEMU_STRACE"}));
  EXPECT_FALSE(contains(p->argv, {"-U", "QEMUX"}));
  // qemu itself still sees them.
  EXPECT_NE(std::find(p->env.begin(), p->env.end(), "QEMU_STRACE=1"), p->env.end());
}

TEST_F(Launcher, ConfiguredCpuArgsAndEnvironmentApply) {
  Config config;
  config.targets["aarch64"].cpu = "cortex-a53";
  config.targets["aarch64"].qemu_args = std::vector<std::string>{"-d", "unimp"};
  config.targets["aarch64"].env["LANG"] = "C.UTF-8";
  auto p = plan({helper("aarch64", "static"), {}}, {"PATH=/usr/bin", "LANG=en_US"}, config);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(contains(p->argv, {"-cpu", "cortex-a53"}));
  EXPECT_TRUE(contains(p->argv, {"-d", "unimp"}));
  EXPECT_NE(std::find(p->env.begin(), p->env.end(), "LANG=C.UTF-8"), p->env.end());
  EXPECT_EQ(std::find(p->env.begin(), p->env.end(), "LANG=en_US"), p->env.end());
}

TEST_F(Launcher, ProgramFoundInPathKeepsItsTypedName) {
  TempDir bin;
  const std::string copy = bin.write("mytool", *read_file(helper("aarch64", "static")), true);
  auto p = plan({"mytool", {"x"}}, {"PATH=/nonexistent:" + bin.path() + ":/usr/bin"});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(contains(p->argv, {"-0", "mytool", copy, "x"}));
}

TEST_F(Launcher, HostProgramRunsNatively) {
  auto p = plan({xrun::testing::host_helper(), {"exit", "3"}});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_FALSE(p->emulated);
  EXPECT_EQ(p->executable, xrun::testing::host_helper());
  EXPECT_EQ(p->argv, (std::vector<std::string>{xrun::testing::host_helper(), "exit", "3"}));
}

TEST_F(Launcher, ScriptRunsNatively) {
  TempDir dir;
  const std::string script = dir.write("s.sh", "#!/bin/sh\nexit 4\n", true);
  auto p = plan({script, {}});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_FALSE(p->emulated);
  EXPECT_EQ(p->executable, script);
}

TEST_F(Launcher, ForcedTargetMustMatchTheFile) {
  auto p = plan({helper("riscv64", "dynamic"), {}, std::nullopt, "aarch64"});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ExitCode::CannotExecute);
  EXPECT_NE(p.error().message.find("built for riscv64, not for aarch64"), std::string::npos) << p.error().message;
  auto unknown = plan({helper("riscv64", "dynamic"), {}, std::nullopt, "riscv46"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ExitCode::Usage);
  EXPECT_NE(unknown.error().message.find("did you mean \"riscv64\"?"), std::string::npos);
}

TEST_F(Launcher, MissingQemuSaysWhatToInstall) {
  Config config;
  config.targets["s390x"].qemu = "qemu-s390x-not-installed";
  auto missing = plan({helper("s390x", "static"), {}}, {"PATH=/usr/bin"}, config);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ExitCode::CannotExecute);
  EXPECT_NE(missing.error().message.find("\"qemu-s390x-not-installed\", is not an executable file"), std::string::npos)
      << missing.error().message;
}

TEST_F(Launcher, BareMetalIsRefusedClearly) {
  auto p = plan({XRUN_BARE_METAL_ELF, {}});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ExitCode::CannotExecute);
  EXPECT_NE(p.error().message.find("bare-metal"), std::string::npos);
}

TEST_F(Launcher, ShellQuoting) {
  EXPECT_EQ(shell_quote("plain/path-1.0"), "plain/path-1.0");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
}

}  // namespace
