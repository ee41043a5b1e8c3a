// The binary probe on real files of every format it reads (built by
// tests/CMakeLists.txt with mingw-w64, clang for wasm32-wasi, the Linux cross
// compilers and arm-none-eabi-gcc) and on hand-made headers: truncated,
// hostile, of every machine the PE reader names.
#include "probe/binary_probe.h"

#include <gtest/gtest.h>

#include "core/fs_util.h"
#include "support/paths.h"
#include "support/temp_dir.h"

using namespace xrun;
using xrun::testing::helper;

namespace {

BinaryInfo probe_bytes(const std::string& bytes) { return probe_binary(ByteSource::memory(bytes), "t"); }

std::string file(const std::string& path) {
  auto bytes = read_file(path);
  EXPECT_TRUE(bytes) << path;
  return bytes.value_or("");
}

void put(std::string& b, std::size_t at, int size, std::uint64_t v) {
  for (int i = 0; i < size; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// Where the real PE's headers are (e_lfanew), from its DOS header.
std::size_t pe_header(const std::string& b) {
  std::size_t at = 0;
  for (int i = 3; i >= 0; --i) at = (at << 8) | static_cast<unsigned char>(b[0x3c + static_cast<std::size_t>(i)]);
  return at;
}

TEST(BinaryProbe, LinuxElfKeepsEveryFactOfTheElfProbe) {
  for (const std::string linkage : {"dynamic", "static"}) {
    const std::string path = helper("aarch64", linkage);
    auto info = probe_binary(path);
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->format, BinaryFormat::Elf);
    ASSERT_TRUE(info->elf);
    EXPECT_FALSE(info->problem);
    auto elf = probe_elf(path);
    ASSERT_TRUE(elf);
    EXPECT_EQ(info->elf->describe(), elf->describe());
    EXPECT_EQ(info->elf->interpreter, elf->interpreter);
    EXPECT_EQ(info->architecture(), "aarch64");
    EXPECT_EQ(info->bits(), 64);
    EXPECT_EQ(info->os(), ProgramOs::Linux);
    EXPECT_EQ(info->describe(), elf->describe());
  }
  auto armhf = probe_binary(helper("armhf", "dynamic"));
  ASSERT_TRUE(armhf);
  EXPECT_EQ(armhf->architecture(), "arm");
  EXPECT_EQ(armhf->bits(), 32);
  auto host = probe_binary(xrun::testing::host_helper());
  ASSERT_TRUE(host);
  EXPECT_EQ(host->architecture(), "x86-64");
}

// Real firmware: newlib's semihosting startup links it at address 0, which
// the checks of what Linux maps once called corrupt.
TEST(BinaryProbe, NewlibCortexMFirmwareIsBareMetalNotCorrupt) {
  for (const std::string& path : {std::string(XRUN_PROBE_FIRMWARE), std::string(XRUN_BARE_METAL_ELF)}) {
    auto info = probe_binary(path);
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->format, BinaryFormat::Elf);
    ASSERT_TRUE(info->elf) << path << ": " << (info->problem ? info->problem->message : "");
    EXPECT_EQ(info->elf->arm_profile, 'M');
    EXPECT_TRUE(info->elf->is_bare_metal());
    EXPECT_EQ(info->os(), ProgramOs::None);
    EXPECT_EQ(os_name(info->os()), "none");
    EXPECT_NE(info->describe().find("bare metal"), std::string::npos) << info->describe();
  }
}

TEST(BinaryProbe, AWindowsProgramAndDllAreReadFromTheirPeHeaders) {
  auto exe = probe_binary(XRUN_PROBE_PE_EXE);
  ASSERT_TRUE(exe) << exe.error().message;
  EXPECT_EQ(exe->format, BinaryFormat::Pe);
  EXPECT_FALSE(exe->problem);
  ASSERT_TRUE(exe->pe);
  EXPECT_EQ(exe->pe->machine, 0x8664);
  EXPECT_TRUE(exe->pe->pe32_plus);
  EXPECT_EQ(exe->pe->subsystem, 3);
  EXPECT_FALSE(exe->pe->is_dll());
  EXPECT_FALSE(exe->pe->dotnet);
  EXPECT_EQ(exe->architecture(), "x86-64");
  EXPECT_EQ(exe->bits(), 64);
  EXPECT_EQ(exe->os(), ProgramOs::Windows);
  EXPECT_EQ(exe->describe(), "a Windows PE x86-64 program (console)");
  EXPECT_FALSE(exe->elf);

  auto dll = probe_binary(XRUN_PROBE_PE_DLL);
  ASSERT_TRUE(dll);
  ASSERT_TRUE(dll->pe);
  EXPECT_TRUE(dll->pe->is_dll());
  EXPECT_EQ(dll->describe(), "a Windows PE x86-64 DLL");
}

// The machines and subsystems a Windows backend must tell apart, on the real
// program with its fields changed.
TEST(BinaryProbe, PeMachinesAndSubsystemsAreNamed) {
  const std::string original = file(XRUN_PROBE_PE_EXE);
  const std::size_t coff = pe_header(original) + 4, optional = coff + 20;
  struct Case {
    std::uint16_t machine;
    std::string architecture;
  };
  for (const auto& [machine, name] : std::vector<Case>{
           {0x8664, "x86-64"}, {0x14c, "i386"}, {0xaa64, "arm64"}, {0x1c4, "arm"}, {0x1234, "machine 0x1234"}}) {
    std::string bytes = original;
    put(bytes, coff, 2, machine);
    const BinaryInfo info = probe_bytes(bytes);
    ASSERT_TRUE(info.pe);
    EXPECT_EQ(info.architecture(), name);
  }
  std::string gui = original;
  put(gui, optional + 68, 2, 2);
  EXPECT_EQ(probe_bytes(gui).describe(), "a Windows PE x86-64 program (GUI)");
  std::string efi = original;
  put(efi, optional + 68, 2, 10);
  EXPECT_EQ(probe_bytes(efi).os(), ProgramOs::Uefi);
  EXPECT_EQ(probe_bytes(efi).describe(), "an EFI application (PE x86-64)");
  // A PE32 optional header (magic 0x10b) is a 32-bit program.
  std::string pe32 = original;
  put(pe32, optional, 2, 0x10b);
  EXPECT_EQ(probe_bytes(pe32).bits(), 32);
}

// An "MZ" file is a PE file only with "PE\0\0" where e_lfanew says; a PE
// file cut inside its headers is one, with the problem said.
TEST(BinaryProbe, TruncatedOrHostilePeHeadersAreDescribedNeverCrashes) {
  const std::string original = file(XRUN_PROBE_PE_EXE);
  const std::size_t header = pe_header(original);
  for (std::size_t size : {std::size_t{1}, std::size_t{2}, std::size_t{0x3f}, std::size_t{0x40}, header + 3}) {
    const BinaryInfo info = probe_bytes(original.substr(0, size));
    EXPECT_EQ(info.format, BinaryFormat::Unknown) << size;
    ASSERT_TRUE(info.problem) << size;
    EXPECT_NE(info.problem->message.find("not an ELF executable"), std::string::npos) << info.problem->message;
  }
  for (std::size_t size : {header + 4, header + 23, header + 24 + 60}) {
    const BinaryInfo info = probe_bytes(original.substr(0, size));
    EXPECT_EQ(info.format, BinaryFormat::Pe) << size;
    ASSERT_TRUE(info.problem) << size;
    EXPECT_NE(info.problem->message.find("t: truncated or corrupt PE file"), std::string::npos)
        << info.problem->message;
    EXPECT_EQ(info.describe(), "a PE/COFF file");
  }
  // e_lfanew pointing anywhere: past the end, into the DOS header, at 4 GiB.
  for (std::uint64_t lfanew : {std::uint64_t{0}, std::uint64_t{4}, std::uint64_t{0xffffffff}, original.size() - 2}) {
    std::string bytes = original;
    put(bytes, 0x3c, 4, lfanew);
    EXPECT_EQ(probe_bytes(bytes).format, BinaryFormat::Unknown) << lfanew;
  }
  // An optional header too small for its subsystem, or of no known magic.
  std::string small = original;
  put(small, header + 4 + 16, 2, 10);
  EXPECT_NE(probe_bytes(small).problem.value_or(Error{}).message.find("optional header of 10 bytes"),
            std::string::npos);
  std::string magic = original;
  put(magic, header + 24, 2, 0x107);
  EXPECT_NE(probe_bytes(magic).problem.value_or(Error{}).message.find("magic 263"), std::string::npos);
}

TEST(BinaryProbe, AWasiModuleIsReadFromItsSections) {
  auto info = probe_binary(XRUN_PROBE_WASM);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->format, BinaryFormat::Wasm);
  EXPECT_FALSE(info->problem);
  ASSERT_TRUE(info->wasm);
  EXPECT_EQ(info->wasm->version, 1);
  EXPECT_FALSE(info->wasm->is_component());
  EXPECT_EQ(info->wasm->wasi_module, "wasi_snapshot_preview1");
  EXPECT_FALSE(info->wasm->memory64);
  EXPECT_EQ(info->architecture(), "wasm32");
  EXPECT_EQ(info->bits(), 32);
  EXPECT_EQ(info->os(), ProgramOs::Wasi);
  EXPECT_EQ(info->describe(), "a WebAssembly module (wasm32, WASI preview 1)");
}

TEST(BinaryProbe, WasmModulesOfOtherKinds) {
  const std::string preamble("\0asm\1\0\0\0", 8);
  // No imports at all: not WASI.
  const BinaryInfo bare = probe_bytes(preamble);
  EXPECT_EQ(bare.format, BinaryFormat::Wasm);
  EXPECT_EQ(bare.os(), ProgramOs::Unknown);
  EXPECT_EQ(bare.describe(), "a WebAssembly module (wasm32, no WASI imports)");
  // A 64-bit memory (memory64: limits flag 4).
  const BinaryInfo wide = probe_bytes(preamble + std::string("\x05\x03\x01\x04\x01", 5));
  EXPECT_EQ(wide.architecture(), "wasm64");
  EXPECT_EQ(wide.bits(), 64);
  // A component (the component model's version 0xd, layer 1).
  const BinaryInfo component = probe_bytes(std::string("\0asm\x0d\0\1\0", 8));
  ASSERT_TRUE(component.wasm);
  EXPECT_TRUE(component.wasm->is_component());
  EXPECT_EQ(component.describe(), "a WebAssembly component");
  // Imports from the older WASI module name, after a custom section.
  std::string unstable = preamble + std::string("\0\x03\x01x\0", 5);
  const std::string imports = std::string("\x01\x0dwasi_unstable\x08proc_exit\0\0", 27);
  unstable += "\x02" + std::string(1, static_cast<char>(imports.size())) + imports;
  const BinaryInfo old = probe_bytes(unstable);
  ASSERT_TRUE(old.wasm);
  EXPECT_EQ(old.wasm->wasi_module, "wasi_unstable");
  EXPECT_EQ(old.os(), ProgramOs::Wasi);
}

TEST(BinaryProbe, TruncatedOrHostileWasmIsDescribedNeverCrashes) {
  const std::string original = file(XRUN_PROBE_WASM);
  for (std::size_t size = 4; size < 8; ++size) {
    const BinaryInfo info = probe_bytes(original.substr(0, size));
    EXPECT_EQ(info.format, BinaryFormat::Wasm);
    ASSERT_TRUE(info.problem);
    EXPECT_NE(info.problem->message.find("truncated WebAssembly module"), std::string::npos);
  }
  // Cut anywhere after the preamble: still a module, never a read past the end.
  for (std::size_t size = 8; size < std::min<std::size_t>(original.size(), 600); size += 7) {
    const BinaryInfo info = probe_bytes(original.substr(0, size));
    EXPECT_EQ(info.format, BinaryFormat::Wasm);
    EXPECT_TRUE(info.wasm);
  }
  // Sizes and counts that claim more than there is.
  const std::string preamble("\0asm\1\0\0\0", 8);
  for (const std::string& sections :
       {std::string("\x02\xff\xff\xff\xff\x0f", 6), std::string("\x02\x05\xff\xff\xff\xff\x0f", 7),
        std::string("\x02\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 12), std::string("\x02\x04\x01\x7f\x61\x00", 6),
        std::string("\x05\x01\x05", 3)}) {
    const BinaryInfo info = probe_bytes(preamble + sections);
    EXPECT_EQ(info.format, BinaryFormat::Wasm);
    EXPECT_TRUE(info.wasm);
    EXPECT_EQ(info.os(), ProgramOs::Unknown);
  }
}

TEST(BinaryProbe, ScriptsNameTheirInterpreter) {
  EXPECT_EQ(probe_bytes("#!/bin/sh\necho hi\n").interpreter, "/bin/sh");
  EXPECT_EQ(probe_bytes("#! /usr/bin/env python3 -u\n").interpreter, "/usr/bin/env");
  const BinaryInfo bare = probe_bytes("#!");
  EXPECT_EQ(bare.format, BinaryFormat::Script);
  EXPECT_EQ(bare.interpreter, "");
  EXPECT_EQ(probe_bytes("#!/bin/sh").describe(), "a script (#!/bin/sh)");
  EXPECT_EQ(probe_bytes("#!/bin/sh").architecture(), "");
}

// What is none of them: the launcher's message, as it always was.
TEST(BinaryProbe, AFileOfNoKnownFormatKeepsTheLaunchersMessage) {
  for (const std::string& bytes : {std::string(), std::string("hi"), std::string(100, 'a'), std::string("MZ"),
                                   std::string("\x7f"
                                               "ELG....................")}) {
    const BinaryInfo info = probe_bytes(bytes);
    EXPECT_EQ(info.format, BinaryFormat::Unknown);
    ASSERT_TRUE(info.problem);
    EXPECT_EQ(info.problem->code, ExitCode::CannotExecute);
    EXPECT_NE(info.problem->message.find("t: not an ELF executable"), std::string::npos) << info.problem->message;
    EXPECT_EQ(info.size, bytes.size());
  }
  // A corrupt ELF file is still ELF, with the ELF probe's reason.
  std::string bytes = file(helper("aarch64", "dynamic"));
  bytes[4] = 7;
  const BinaryInfo corrupt = probe_bytes(bytes);
  EXPECT_EQ(corrupt.format, BinaryFormat::Elf);
  EXPECT_FALSE(corrupt.elf);
  ASSERT_TRUE(corrupt.problem);
  EXPECT_NE(corrupt.problem->message.find("unknown class 7"), std::string::npos);
}

TEST(BinaryProbe, WhatCannotBeReadIsAnError) {
  auto missing = probe_binary("/nonexistent/xrun/program");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ExitCode::NotFound);
  xrun::testing::TempDir dir;
  auto directory = probe_binary(dir.path());
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().code, ExitCode::CannotExecute);
  EXPECT_NE(directory.error().message.find("is a directory"), std::string::npos);
}

// The same answer from a descriptor and from memory, for every real file.
TEST(BinaryProbe, MemoryAndDescriptorGiveTheSameAnswer) {
  for (const std::string& path : {std::string(XRUN_PROBE_PE_EXE), std::string(XRUN_PROBE_WASM),
                                  std::string(XRUN_PROBE_FIRMWARE), helper("riscv64", "dynamic")}) {
    auto from_file = probe_binary(path);
    ASSERT_TRUE(from_file);
    const std::string bytes = file(path);
    const BinaryInfo from_memory = probe_binary(ByteSource::memory(bytes), path);
    EXPECT_EQ(from_memory.format, from_file->format);
    EXPECT_EQ(from_memory.describe(), from_file->describe());
    EXPECT_EQ(from_memory.size, from_file->size);
  }
}

}  // namespace
