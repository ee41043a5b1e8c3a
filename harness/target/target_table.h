// The target table: which architectures xrun knows, how to recognise their
// ELF files, and how to run them under qemu-user. The data lives in
// configs/targets.toml and is compiled into xrun (builtin()).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/expected.h"
#include "probe/elf_probe.h"

namespace xrun {

// Debian packages that provide each piece, for "install X" hints.
struct TargetPackages {
  std::string qemu;      // qemu-user
  std::string sysroot;   // libc6-arm64-cross
  std::string compiler;  // gcc-aarch64-linux-gnu
};

struct TargetSpec {
  std::string name;  // "aarch64": the key in targets.toml and xrun.toml
  std::string description;
  // ELF identification: all must match, and (e_flags & flags_mask) == flags_value.
  std::uint16_t elf_machine = 0;
  ElfClass elf_class = ElfClass::Elf64;
  ByteOrder byte_order = ByteOrder::Little;
  std::uint32_t flags_mask = 0;
  std::uint32_t flags_value = 0;
  std::string qemu;                    // qemu-user binary name or path
  std::string cpu;                     // default -cpu model; empty: qemu's own default
  std::string multiarch;               // Debian multiarch tuple: the target ld.so's library dir name
  std::string gnu_triple;              // cross toolchain prefix: aarch64-linux-gnu(-gcc)
  std::string cpu_family;              // Meson's cpu_family
  std::string cmake_processor;         // CMAKE_SYSTEM_PROCESSOR
  std::string loader;                  // glibc's dynamic loader path (PT_INTERP)
  std::vector<std::string> sysroots;   // candidate sysroots, first usable wins
  std::vector<std::string> triples;    // other names: Rust and GNU triples, Debian arch
  std::vector<std::string> native_on;  // host machines (uname -m) that run it without qemu
  TargetPackages packages;

  bool matches(const ElfInfo& elf) const;
};

class TargetTable {
 public:
  TargetTable() = default;
  explicit TargetTable(std::vector<TargetSpec> targets) : targets_(std::move(targets)) {}

  // Parses a table in the targets.toml format; `source_name` is used in errors.
  static Expected<TargetTable> parse(std::string_view toml_text, std::string_view source_name);
  // The table compiled into xrun from configs/targets.toml. It is parsed at
  // build time (harness/target/codegen_main.cpp), not at every launch: xrun
  // starts once per program run, and parsing cost 0.3 ms of a 15 ms budget.
  static const TargetTable& builtin();

  const std::vector<TargetSpec>& targets() const { return targets_; }
  std::vector<std::string> names() const;
  // By name ("aarch64") or any of its triples ("aarch64-unknown-linux-gnu").
  const TargetSpec* find(std::string_view name_or_triple) const;
  // The target an ELF file was built for, or nullptr.
  const TargetSpec* match(const ElfInfo& elf) const;

 private:
  std::vector<TargetSpec> targets_;
};

// The machine name of the host kernel (uname -m), e.g. "x86_64".
std::string host_machine();

}  // namespace xrun
