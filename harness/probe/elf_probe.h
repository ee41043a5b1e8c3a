// The ELF part of the binary probe (probe/binary_probe.h): turns an ELF file
// into the facts that decide how to run it (class, byte order, machine, ABI
// flags, interpreter, bare metal or not).
//
// It reads only what it needs (the header, the program headers, and for ARM
// static files the build-attributes section) and checks every offset against
// the file size, so a truncated or hostile file yields an Error, never a crash.
// A bare-metal file is recognised before the checks of what Linux and
// qemu-user would map: firmware linked at address 0 is not a corrupt program.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/expected.h"
#include "probe/byte_source.h"

namespace xrun {

enum class ElfClass : std::uint8_t { Elf32 = 1, Elf64 = 2 };
enum class ByteOrder : std::uint8_t { Little = 1, Big = 2 };
enum class Libc : std::uint8_t { None, Glibc, Musl, Other };

// e_type values we care about.
inline constexpr std::uint16_t kElfTypeExec = 2;
inline constexpr std::uint16_t kElfTypeDyn = 3;

struct ElfInfo {
  ElfClass elf_class = ElfClass::Elf64;
  ByteOrder byte_order = ByteOrder::Little;
  std::uint16_t type = 0;
  std::uint16_t machine = 0;
  std::uint32_t flags = 0;
  std::uint8_t os_abi = 0;
  std::optional<std::string> interpreter;  // PT_INTERP, e.g. /lib/ld-linux-aarch64.so.1
  bool has_dynamic_section = false;        // PT_DYNAMIC
  // DT_RUNPATH, else DT_RPATH, split at ':' and unexpanded ("$ORIGIN/../lib"):
  // where the loader looks for libraries first. Empty when absent or unreadable.
  std::vector<std::string> library_paths;
  // The newest glibc version a glibc program needs ("2.34" for GLIBC_2.34),
  // from its version needs (.gnu.version_r); nullopt when it needs none,
  // they cannot be read, or it is not a glibc program. A board checks it
  // against its own glibc before the program runs there.
  std::optional<std::string> glibc_needed;
  // Tag_CPU_arch_profile from .ARM.attributes: 'A', 'R', 'M', 'S', or 0 when
  // absent or not looked for (only read for ARM files without an interpreter).
  char arm_profile = 0;

  bool is_dynamic() const { return interpreter.has_value(); }
  // ET_DYN without PT_INTERP: a static PIE (or a shared library run directly).
  bool is_static_pie() const { return type == kElfTypeDyn && !interpreter; }
  // No operating system underneath: Cortex-M firmware, a microcontroller's
  // machine (AVR, MSP430), or an explicit "standalone" OS/ABI. Such files run
  // under qemu-system, never qemu-user.
  bool is_bare_metal() const;
  // The machine's name: "aarch64", "x86-64", "arm", "riscv64", ... or
  // "machine N" for one this list does not name.
  std::string architecture() const;
  Libc libc() const;
  // The float ABI / calling convention encoded in e_flags, e.g. "hard-float",
  // "soft-float", "lp64d"; empty when the machine has no such flag.
  std::string abi() const;
  // One line for messages: "ELF 64-bit LSB, machine 183, dynamic (/lib/ld-linux-aarch64.so.1)".
  std::string describe() const;
};

// Errors: NotFound when the path does not exist; CannotExecute for a
// directory, an unreadable file, a non-ELF file, and a truncated or corrupt
// ELF file. The message starts with the path. (probe_binary() of
// probe/binary_probe.h says what a non-ELF file is instead.)
Expected<ElfInfo> probe_elf(const std::string& path);
// The same over bytes already open or in memory; `path` names the file in
// messages.
Expected<ElfInfo> probe_elf(const ByteSource& source, const std::string& path);

// ElfInfo::glibc_needed of the file at `path` (for any ELF file, glibc's or not).
std::optional<std::string> glibc_version_needed(const std::string& path);
// "GLIBC_2.34" -> {2, 34}; nullopt for names of other version families.
std::optional<std::pair<int, int>> parse_glibc_version(std::string_view name);

}  // namespace xrun
