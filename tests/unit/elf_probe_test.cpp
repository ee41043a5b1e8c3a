#include "probe/elf_probe.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>

#include "core/fs_util.h"
#include "support/paths.h"
#include "support/temp_dir.h"
#include "target/target_table.h"

using namespace xrun;
using xrun::testing::helper;

namespace {

// What each real cross-built helper must probe as (docs/measured.md, measured
// independently of configs/targets.toml so the table is checked too).
struct Expected_ {
  std::uint16_t machine;
  ElfClass elf_class;
  ByteOrder order;
  std::string interpreter;
  std::string abi;
};
const std::map<std::string, Expected_> kExpected = {
    {"aarch64", {183, ElfClass::Elf64, ByteOrder::Little, "/lib/ld-linux-aarch64.so.1", ""}},
    {"armhf", {40, ElfClass::Elf32, ByteOrder::Little, "/lib/ld-linux-armhf.so.3", "hard-float"}},
    {"armel", {40, ElfClass::Elf32, ByteOrder::Little, "/lib/ld-linux.so.3", "soft-float"}},
    {"riscv64", {243, ElfClass::Elf64, ByteOrder::Little, "/lib/ld-linux-riscv64-lp64d.so.1", "lp64d"}},
    {"ppc64le", {21, ElfClass::Elf64, ByteOrder::Little, "/lib64/ld64.so.2", ""}},
    {"s390x", {22, ElfClass::Elf64, ByteOrder::Big, "/lib/ld64.so.1", ""}},
    {"mips64el", {8, ElfClass::Elf64, ByteOrder::Little, "/lib64/ld.so.1", ""}},
    {"i686", {3, ElfClass::Elf32, ByteOrder::Little, "/lib/ld-linux.so.2", ""}},
    {"x86_64", {62, ElfClass::Elf64, ByteOrder::Little, "/lib64/ld-linux-x86-64.so.2", ""}},
};

std::vector<std::string> all_targets() {
  auto targets = xrun::testing::cross_targets();
  targets.push_back("x86_64");
  return targets;
}

class ProbeRealBinary : public ::testing::TestWithParam<std::string> {};

TEST_P(ProbeRealBinary, DynamicHasInterpreterAndMatchesItsTarget) {
  const std::string target = GetParam();
  const auto& want = kExpected.at(target);
  auto info = probe_elf(helper(target, "dynamic"));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->machine, want.machine);
  EXPECT_EQ(info->elf_class, want.elf_class);
  EXPECT_EQ(info->byte_order, want.order);
  ASSERT_TRUE(info->interpreter);
  EXPECT_EQ(*info->interpreter, want.interpreter);
  EXPECT_EQ(info->abi(), want.abi);
  EXPECT_EQ(info->libc(), Libc::Glibc);
  EXPECT_FALSE(info->is_bare_metal());
  const TargetSpec* spec = TargetTable::builtin().match(*info);
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->name, target);
  EXPECT_EQ(spec->loader, want.interpreter) << "targets.toml loader disagrees with the real binary";
}

TEST_P(ProbeRealBinary, StaticHasNoInterpreterAndSameTarget) {
  const std::string target = GetParam();
  auto info = probe_elf(helper(target, "static"));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_FALSE(info->interpreter);
  EXPECT_EQ(info->libc(), Libc::None);
  EXPECT_FALSE(info->is_bare_metal()) << "a static Linux program is not firmware";
  const TargetSpec* spec = TargetTable::builtin().match(*info);
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->name, target);
}

INSTANTIATE_TEST_SUITE_P(Targets, ProbeRealBinary, ::testing::ValuesIn(all_targets()));

TEST(ElfProbe, CortexMImageIsBareMetal) {
  auto info = probe_elf(XRUN_BARE_METAL_ELF);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->machine, 40);
  EXPECT_EQ(info->arm_profile, 'M');
  EXPECT_TRUE(info->is_bare_metal());
  EXPECT_NE(info->describe().find("bare metal"), std::string::npos);
}

TEST(ElfProbe, StaticArmLinuxProgramIsApplicationProfile) {
  auto info = probe_elf(helper("armhf", "static"));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->arm_profile, 'A');
}

// What a VM must show for a test's libraries: CMake's build RUNPATH.
TEST(ElfProbe, TheRunpathIsRead) {
  auto linked = probe_elf(XRUN_GTEST_RUNPATH);
  ASSERT_TRUE(linked) << linked.error().message;
  const std::string libs = std::string(XRUN_GTEST_SUITE_BUILD) + "/libs";
  EXPECT_EQ(linked->library_paths, std::vector<std::string>{libs});
  auto plain = probe_elf(XRUN_GTEST_SUITE);
  ASSERT_TRUE(plain);
  EXPECT_TRUE(plain->library_paths.empty());
}

TEST(ElfProbe, MissingFileIsNotFound) {
  auto info = probe_elf("/nonexistent/xrun/program");
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ExitCode::NotFound);
  EXPECT_NE(info.error().message.find("/nonexistent/xrun/program: no such file"), std::string::npos);
}

TEST(ElfProbe, DirectoryCannotExecute) {
  xrun::testing::TempDir dir;
  auto info = probe_elf(dir.path());
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ExitCode::CannotExecute);
  EXPECT_NE(info.error().message.find("is a directory"), std::string::npos);
}

TEST(ElfProbe, TextFileIsNotElf) {
  xrun::testing::TempDir dir;
  for (const std::string& content : {std::string(), std::string("hi"), std::string(100, 'a'),
                                     std::string("\x7f"
                                                 "ELG....................")}) {
    auto info = probe_elf(dir.write("f", content));
    ASSERT_FALSE(info);
    EXPECT_EQ(info.error().code, ExitCode::CannotExecute);
    EXPECT_NE(info.error().message.find("not an ELF executable"), std::string::npos) << info.error().message;
  }
}

TEST(ElfProbe, CorruptIdentificationIsReported) {
  xrun::testing::TempDir dir;
  std::string bytes = *read_file(helper("aarch64", "dynamic"));
  bytes[4] = 7;  // EI_CLASS
  auto info = probe_elf(dir.write("bad-class", bytes));
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message.find("unknown class 7"), std::string::npos);
}

TEST(ElfProbe, RelocatableObjectIsNotAnExecutable) {
  xrun::testing::TempDir dir;
  std::string bytes = *read_file(helper("aarch64", "dynamic"));
  bytes[16] = 1;  // e_type = ET_REL (little-endian)
  bytes[17] = 0;
  auto info = probe_elf(dir.write("obj.o", bytes));
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message.find("relocatable object"), std::string::npos);
}

TEST(ElfProbe, TruncatedFilesAreErrorsNeverCrashes) {
  xrun::testing::TempDir dir;
  const std::string bytes = *read_file(helper("riscv64", "dynamic"));
  for (std::size_t size : {1ul, 4ul, 15ul, 16ul, 40ul, 63ul, 64ul, 100ul, 300ul}) {
    auto info = probe_elf(dir.write("t", bytes.substr(0, size)));
    ASSERT_FALSE(info) << "size " << size;
    EXPECT_EQ(info.error().code, ExitCode::CannotExecute);
    if (size >= 64) {
      EXPECT_NE(info.error().message.find("truncated"), std::string::npos) << info.error().message;
    }
  }
}

TEST(ElfProbe, RandomCorruptionNeverCrashes) {
  xrun::testing::TempDir dir;
  std::mt19937 random(12345);
  for (const std::string target : {"aarch64", "s390x", "armhf"}) {
    const std::string original = *read_file(helper(target, "static"));
    for (int round = 0; round < 300; ++round) {
      std::string bytes = original.substr(0, 4096);
      for (int flips = 0; flips < 8; ++flips) bytes[random() % 128] = static_cast<char>(random());
      bytes[0] = 0x7f, bytes[1] = 'E', bytes[2] = 'L', bytes[3] = 'F';
      auto info = probe_elf(dir.write("fuzz", bytes));
      if (!info) {
        EXPECT_FALSE(info.error().message.empty());
      }
    }
  }
}

// Files qemu would fail on, or die of SIGBUS over, are caught before it
// runs: segments past the end of a truncated file, segments that cannot be
// mapped, a bad EI_VERSION, two interpreters.
TEST(ElfProbe, WhatTheLoaderCannotMapIsRejectedUpFront) {
  xrun::testing::TempDir dir;
  const std::string original = *read_file(helper("aarch64", "dynamic"));
  ASSERT_TRUE(probe_elf(dir.write("whole", original)));
  const auto message = [&](const std::string& bytes) {
    auto info = probe_elf(dir.write("t", bytes));
    EXPECT_FALSE(info);
    return info ? std::string() : info.error().message;
  };
  EXPECT_NE(message(original.substr(0, 30000)).find("truncated ELF file: segment"), std::string::npos);
  std::string version = original;
  version[6] = 0;
  EXPECT_NE(message(version).find("EI_VERSION must be 1"), std::string::npos);
  // Program headers of a 64-bit little-endian file: at e_phoff, 56 bytes each.
  const auto u64 = [](const std::string& b, std::size_t at) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<std::size_t>(i)]);
    return v;
  };
  const std::size_t phoff = u64(original, 0x20);
  const std::size_t phnum = static_cast<unsigned char>(original[0x38]);
  std::size_t load = 0, interp = 0, other = 0;
  for (std::size_t i = 0; i < phnum; ++i) {
    const unsigned type = static_cast<unsigned char>(original[phoff + i * 56]);
    if (type == 1 && load == 0)
      load = phoff + i * 56;
    else if (type == 3)
      interp = phoff + i * 56;
    else if (type == 4)
      other = phoff + i * 56;  // PT_NOTE
  }
  ASSERT_TRUE(load && interp && other);
  std::string misaligned = original;
  misaligned[load + 0x08] = static_cast<char>(misaligned[load + 0x08] + 1);  // p_offset + 1
  EXPECT_NE(message(misaligned).find("cannot be mapped"), std::string::npos);
  std::string two = original;
  two.replace(other, 56, original.substr(interp, 56));
  const std::string why = message(two);
  EXPECT_NE(why.find("two interpreters (PT_INTERP)"), std::string::npos) << why;
  EXPECT_EQ(why.find("install"), std::string::npos) << why;
}

// What tests/fuzz/xrun_fuzz found qemu-user (7.2) refusing or dying on,
// though the headers above were fine: each is now refused before qemu runs.
TEST(ElfProbe, WhatTheFuzzerFoundQemuRefusingIsRejectedUpFront) {
  xrun::testing::TempDir dir;
  const std::string original = *read_file(helper("aarch64", "dynamic"));
  const auto message = [&](const std::string& bytes) {
    auto info = probe_elf(dir.write("t", bytes));
    return info ? std::string("accepted") : info.error().message;
  };
  const auto put = [](std::string& b, std::size_t at, int size, std::uint64_t v) {
    for (int i = 0; i < size; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  const auto get = [](const std::string& b, std::size_t at, int size) {
    std::uint64_t v = 0;
    for (int i = size - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<std::size_t>(i)]);
    return v;
  };
  const std::size_t phoff = get(original, 0x20, 8), phnum = get(original, 0x38, 2);
  std::size_t text = 0, data = 0, interp = 0, note = 0;
  for (std::size_t i = 0; i < phnum; ++i) {
    const std::size_t ph = phoff + i * 56;
    const auto type = get(original, ph, 4), flags = get(original, ph + 4, 4);
    if (type == 1 && !(flags & 2) && !text) text = ph;
    if (type == 1 && (flags & 2) && !data) data = ph;
    if (type == 3) interp = ph;
    if (type == 4) note = ph;
  }
  ASSERT_TRUE(text && data && interp && note);
  const auto mutant = [&](auto change) {
    std::string b = original;
    change(b);
    return message(b);
  };
  EXPECT_NE(mutant([&](std::string& b) { put(b, 0x34, 2, 4096); }).find("e_ehsize must be 64"), std::string::npos);
  EXPECT_NE(mutant([&](std::string& b) { put(b, data + 0x20, 8, 0), put(b, data + 0x28, 8, 0); }).find("p_memsz 0"),
            std::string::npos);
  EXPECT_NE(mutant([&](std::string& b) {
              put(b, data + 0x10, 8, (1ull << 50) + get(b, data + 0x10, 8));
            }).find("beyond a 47-bit address space"),
            std::string::npos);
  EXPECT_NE(mutant([&](std::string& b) { put(b, data + 0x28, 8, 1ull << 45); }).find("more than this machine has"),
            std::string::npos);
  EXPECT_NE(mutant([&](std::string& b) {
              put(b, text + 0x28, 8, get(b, text + 0x20, 8) + 1);
            }).find("is not writable but larger in memory than in the file"),
            std::string::npos);
  EXPECT_NE(mutant([&](std::string& b) {
              put(b, interp + 0x20, 8, get(b, interp + 0x20, 8) + 1);
            }).find("malformed interpreter name"),
            std::string::npos);
  EXPECT_NE(mutant([&](std::string& b) {
              put(b, interp + 0x08, 8, get(b, interp + 0x08, 8) + 1),
                  put(b, interp + 0x20, 8, get(b, interp + 0x20, 8) - 1);
            }).find("is not an absolute path"),
            std::string::npos);
  // A PT_GNU_PROPERTY over the build-id note: a note of another type.
  EXPECT_NE(mutant([&](std::string& b) { put(b, note, 4, 0x6474e553); }).find("not a GNU property note"),
            std::string::npos);
  // A fixed-address program mapped at the lowest pages.
  const std::string fixed = *read_file(helper("aarch64", "static"));
  const std::size_t first_load = get(fixed, 0x20, 8);
  std::string low = fixed;
  for (std::size_t i = 0; i < get(fixed, 0x38, 2); ++i)
    if (get(fixed, first_load + i * 56, 4) == 1) {
      put(low, first_load + i * 56 + 0x10, 8, 0x1000);
      put(low, first_load + i * 56 + 0x08, 8, 0);
      break;
    }
  EXPECT_NE(message(low).find("below the lowest mappable page"), std::string::npos) << message(low);
  EXPECT_EQ(message(original), "accepted");
  EXPECT_EQ(message(fixed), "accepted");
}

// What a board's libc is checked against: the newest GLIBC_ version the
// program needs, from .gnu.version_r.
TEST(ElfProbe, TheNewestGlibcVersionAProgramNeedsIsRead) {
  EXPECT_EQ(glibc_version_needed(helper("aarch64", "dynamic")).value_or("none"), "2.34");  // pthread_create
  EXPECT_EQ(glibc_version_needed(helper("aarch64", "static")).value_or("none"), "none");
  // The same program, its version names changed: one built against a newer glibc.
  xrun::testing::TempDir dir;
  std::string bytes = read_file(helper("aarch64", "dynamic")).value();
  for (std::size_t at; (at = bytes.find("GLIBC_2.34")) != std::string::npos;) bytes.replace(at, 10, "GLIBC_2.99");
  const std::string newer = dir.write("newer", bytes, true);
  EXPECT_EQ(glibc_version_needed(newer).value_or("none"), "2.99");
  // The probe reads it with the rest of the headers (a board checks it), for
  // glibc programs only.
  EXPECT_EQ(probe_elf(helper("aarch64", "dynamic"))->glibc_needed.value_or("none"), "2.34");
  EXPECT_EQ(probe_elf(newer)->glibc_needed.value_or("none"), "2.99");
  EXPECT_EQ(probe_elf(helper("aarch64", "static"))->glibc_needed, std::nullopt);
  EXPECT_EQ(probe_elf(helper("riscv64", "dynamic"))->glibc_needed.value_or("none"), "2.34");
  EXPECT_EQ(glibc_version_needed(dir.write("garbage", std::string(200, 'x'))), std::nullopt);
  EXPECT_EQ(parse_glibc_version("GLIBC_2.9"), (std::pair{2, 9}));
  EXPECT_EQ(parse_glibc_version("GCC_3.0"), std::nullopt);
}

}  // namespace
