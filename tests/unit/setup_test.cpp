#include "setup/setup.h"

#include <gtest/gtest.h>

using namespace xrun;

namespace {

SetupTarget target(const std::string& name) { return *resolve_setup_target(TargetTable::builtin(), name); }

TEST(Setup, AcceptsRustAndGnuTriplesAndNames) {
  for (const std::string name : {"aarch64-unknown-linux-gnu", "aarch64-linux-gnu", "aarch64"}) {
    auto t = resolve_setup_target(TargetTable::builtin(), name);
    ASSERT_TRUE(t) << name;
    EXPECT_EQ(t->spec->name, "aarch64");
    EXPECT_EQ(t->rust_triple, "aarch64-unknown-linux-gnu");
    EXPECT_EQ(t->gnu_triple, "aarch64-linux-gnu");
  }
  EXPECT_EQ(target("arm-linux-gnueabihf").rust_triple, "armv7-unknown-linux-gnueabihf");
  EXPECT_EQ(target("riscv64gc-unknown-linux-gnu").gnu_triple, "riscv64-linux-gnu");
  auto bad = resolve_setup_target(TargetTable::builtin(), "aarch64-unknown-linux-gnux");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("did you mean \"aarch64-unknown-linux-gnu\"?"), std::string::npos);
  EXPECT_EQ(cargo_runner_variable("aarch64-unknown-linux-gnu"), "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER");
}

TEST(CargoConfig, NewFileGetsTheSection) {
  std::vector<std::string> changes;
  auto out = edit_cargo_config("", "c.toml", target("aarch64"), "xrun", "aarch64-linux-gnu-gcc", changes);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "[target.aarch64-unknown-linux-gnu]\nrunner = \"xrun\"\nlinker = \"aarch64-linux-gnu-gcc\"\n");
}

TEST(CargoConfig, ExistingFileKeepsEverythingElse) {
  const std::string before =
      "# my build settings\n[build]\njobs = 2  # two\n\n[target.x86_64-unknown-linux-gnu]\nrustflags = [\"-C\", \"x\"]";
  std::vector<std::string> changes;
  auto out = edit_cargo_config(before, "c.toml", target("aarch64"), "xrun", "", changes);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, before + "\n\n[target.aarch64-unknown-linux-gnu]\nrunner = \"xrun\"\n");
}

TEST(CargoConfig, ExistingSectionGetsRunnerInsertedOrReplaced) {
  std::vector<std::string> changes;
  auto inserted = edit_cargo_config("[target.aarch64-unknown-linux-gnu] # arm\nrustflags = []\n", "c.toml",
                                    target("aarch64"), "xrun", "aarch64-linux-gnu-gcc", changes);
  ASSERT_TRUE(inserted);
  EXPECT_EQ(*inserted,
            "[target.aarch64-unknown-linux-gnu] # arm\nrunner = \"xrun\"\nlinker = "
            "\"aarch64-linux-gnu-gcc\"\nrustflags = []\n");
  changes.clear();
  auto replaced =
      edit_cargo_config("[target.aarch64-unknown-linux-gnu]\nlinker = \"clang\"\nrunner = \"qemu-aarch64 -L /x\"\n",
                        "c.toml", target("aarch64"), "xrun", "aarch64-linux-gnu-gcc", changes);
  ASSERT_TRUE(replaced);
  EXPECT_EQ(*replaced,
            "[target.aarch64-unknown-linux-gnu]\nlinker = \"clang\"\n"
            "runner = \"xrun\"  # xrun setup; was: runner = \"qemu-aarch64 -L /x\"\n");
  EXPECT_NE(changes[1].find("kept linker clang"), std::string::npos);
  changes.clear();
  auto again = edit_cargo_config(*replaced, "c.toml", target("aarch64"), "xrun", "", changes);
  EXPECT_EQ(*again, *replaced) << "running setup twice changes nothing";
}

TEST(CargoConfig, RefusesWhatItCannotEditSafely) {
  std::vector<std::string> changes;
  auto bad = edit_cargo_config("[target\n", "c.toml", target("aarch64"), "xrun", "", changes);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.rfind("c.toml:1:", 0), 0u) << bad.error().message;
  auto inline_table = edit_cargo_config("target = { aarch64-unknown-linux-gnu = { linker = \"x\" } }\n", "c.toml",
                                        target("aarch64"), "xrun", "", changes);
  ASSERT_FALSE(inline_table);
  EXPECT_NE(inline_table.error().message.find("inline table"), std::string::npos);
}

TEST(Setup, ToolchainAndCrossFilesNameTheCompilerAndXrun) {
  const auto cmake = cmake_toolchain(target("riscv64"), "/opt/xrun");
  EXPECT_NE(cmake.find("set(CMAKE_C_COMPILER riscv64-linux-gnu-gcc)"), std::string::npos);
  EXPECT_NE(cmake.find("set(CMAKE_SYSTEM_PROCESSOR riscv64)"), std::string::npos);
  EXPECT_NE(cmake.find("set(CMAKE_CROSSCOMPILING_EMULATOR \"/opt/xrun;--target;riscv64\")"), std::string::npos);
  const auto meson = meson_cross_file(target("s390x"), "xrun");
  EXPECT_NE(meson.find("exe_wrapper = ['xrun', '--target', 's390x']"), std::string::npos);
  EXPECT_NE(meson.find("endian = 'big'"), std::string::npos);
  EXPECT_NE(meson.find("cpu_family = 's390x'"), std::string::npos);
}

}  // namespace
