#include "target/target_table.h"

#include <gtest/gtest.h>

#include <set>

using namespace xrun;

TEST(TargetTable, BuiltinHasEveryTargetTheProjectPromises) {
  const auto& table = TargetTable::builtin();
  for (const std::string name :
       {"aarch64", "armhf", "armel", "riscv64", "ppc64le", "s390x", "mips64el", "i686", "x86_64"}) {
    const TargetSpec* spec = table.find(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_FALSE(spec->qemu.empty());
    EXPECT_FALSE(spec->packages.sysroot.empty());
  }
}

TEST(TargetTable, KeepsFileOrderSoArmhfIsTriedBeforeArmel) {
  const auto names = TargetTable::builtin().names();
  ASSERT_GE(names.size(), 3u);
  EXPECT_EQ(names[0], "aarch64");
  EXPECT_EQ(names[1], "armhf");
  EXPECT_EQ(names[2], "armel");
}

TEST(TargetTable, FindsByRustAndGnuTriple) {
  const auto& table = TargetTable::builtin();
  ASSERT_NE(table.find("aarch64-unknown-linux-gnu"), nullptr);
  EXPECT_EQ(table.find("aarch64-unknown-linux-gnu")->name, "aarch64");
  EXPECT_EQ(table.find("arm-linux-gnueabihf")->name, "armhf");
  EXPECT_EQ(table.find("riscv64gc-unknown-linux-gnu")->name, "riscv64");
  EXPECT_EQ(table.find("sparc64"), nullptr);
}

TEST(TargetTable, NamesAndTriplesAreUnique) {
  std::set<std::string> seen;
  for (const auto& spec : TargetTable::builtin().targets()) {
    EXPECT_TRUE(seen.insert(spec.name).second) << spec.name;
    for (const auto& triple : spec.triples) EXPECT_TRUE(seen.insert(triple).second) << triple;
  }
}

TEST(TargetTable, MatchUsesFlagsToTellArmhfFromArmel) {
  ElfInfo elf;
  elf.machine = 40;
  elf.elf_class = ElfClass::Elf32;
  elf.flags = 0x5000400;
  EXPECT_EQ(TargetTable::builtin().match(elf)->name, "armhf");
  elf.flags = 0x5000200;
  EXPECT_EQ(TargetTable::builtin().match(elf)->name, "armel");
  elf.byte_order = ByteOrder::Big;  // armeb: not a target
  EXPECT_EQ(TargetTable::builtin().match(elf), nullptr);
}

TEST(TargetTable, ParseErrorsSayWhere) {
  auto table = TargetTable::parse("[a]\nelf_machine = \n", "t.toml");
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().message.rfind("t.toml:2:", 0), 0u) << table.error().message;
  auto incomplete = TargetTable::parse("[a]\nelf_machine = 3\n", "t.toml");
  ASSERT_FALSE(incomplete);
  EXPECT_NE(incomplete.error().message.find("needs elf_machine, qemu, loader and multiarch"), std::string::npos);
}
