// The binary probe: what a program's file is, read once per run and carried
// to whoever decides where and how it runs (routing, the launcher, a machine
// backend). One BinaryInfo per file, whatever its format:
//
//   ELF          the ELF probe's facts (probe/elf_probe.h), or why the file
//                cannot run (truncated, corrupt, not an executable)
//   PE/COFF      a Windows program or DLL: machine, 32 or 64 bits, subsystem
//   WebAssembly  a core module or a component: its binary version, wasm32 or
//                wasm64, and whether it imports WASI preview 1
//   script       "#!": the kernel runs its interpreter natively
//   unknown      anything else
//
// The probe reads only headers (a WebAssembly module: its sections up to the
// memory section) and checks every offset against the file's size, so a
// truncated or hostile file is described, or refused with a message, never a
// crash. Which backend runs which format is the registry's (backends/).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/expected.h"
#include "probe/byte_source.h"
#include "probe/elf_probe.h"

namespace xrun {

// A program's file format, as far as choosing where it runs goes.
enum class BinaryFormat : std::uint8_t { Unknown, Elf, Pe, Wasm, Script };

// The system a program is built for, as far as its file says.
enum class ProgramOs : std::uint8_t {
  Unknown,
  Linux,    // an ELF program that is not bare metal (what the target table runs)
  None,     // bare metal: firmware with no OS (ElfInfo::is_bare_metal())
  Windows,  // a PE file of a Windows subsystem
  Uefi,     // a PE file of an EFI subsystem
  Wasi,     // a WebAssembly module importing WASI
};

// PE/COFF (the Microsoft PE format specification): the COFF header after
// "PE\0\0" and the start of the optional header.
struct PeInfo {
  std::uint16_t machine = 0;  // IMAGE_FILE_MACHINE_*: 0x8664 x86-64, 0x14c i386, 0xaa64 arm64
  std::uint16_t characteristics = 0;
  bool pe32_plus = false;       // a 64-bit optional header (magic 0x20b)
  std::uint16_t subsystem = 0;  // IMAGE_SUBSYSTEM_*: 3 console, 2 GUI, 10 EFI application
  bool dotnet = false;          // has a CLR header: a .NET assembly

  bool is_dll() const { return (characteristics & 0x2000) != 0; }
  // "x86-64", "i386", "arm64", "arm", ... or "machine 0x1234".
  std::string architecture() const;
  // "console", "GUI", "EFI application", ... or "subsystem N".
  std::string subsystem_name() const;
};

// The WebAssembly binary format (its "\0asm" preamble and sections).
struct WasmInfo {
  std::uint16_t version = 0;  // 1: the core format every runtime reads
  std::uint16_t layer = 0;    // 0: a core module; 1: a component (the component model)
  bool memory64 = false;      // its memory is 64-bit (wasm64)
  // The WASI module it imports from ("wasi_snapshot_preview1", the older
  // "wasi_unstable"), empty when none (or a component, whose imports are not read).
  std::string wasi_module;

  bool is_component() const { return layer == 1; }
};

struct BinaryInfo {
  BinaryFormat format = BinaryFormat::Unknown;
  std::uint64_t size = 0;  // of the file, in bytes
  // ELF: its headers when it can run as far as they say.
  std::optional<ElfInfo> elf;
  std::optional<PeInfo> pe;
  std::optional<WasmInfo> wasm;
  // A script: its interpreter as the "#!" line names it ("/bin/sh").
  std::string interpreter;
  // Why the file cannot run as what it is: a truncated or corrupt ELF or PE
  // file, an ELF file that is not an executable, or a file of no format xrun
  // knows ("not an ELF executable", as the launcher has always said). The
  // message starts with the path.
  std::optional<Error> problem;

  // "aarch64", "x86-64", "wasm32", ...; empty for a script or an unknown file.
  std::string architecture() const;
  // 32 or 64; 0 when the format says nothing.
  int bits() const;
  ProgramOs os() const;
  // For messages: "a Windows PE x86-64 program (console)", "a WebAssembly
  // module (wasm32, WASI preview 1)", "ELF 64-bit LSB, machine 183, ...".
  std::string describe() const;
};

// "ELF", "PE/COFF", "WebAssembly", "script", "unknown".
std::string_view format_name(BinaryFormat format);
// What a backend of the format runs, for messages: "Windows programs",
// "WebAssembly modules", "ELF programs", "scripts", "files of no known format".
std::string_view programs_of(BinaryFormat format);
std::string_view os_name(ProgramOs os);  // "linux", "none", "windows", "uefi", "wasi", "unknown"

// Errors only when the file cannot be read at all (probe/byte_source.h's
// OpenedFile: NotFound, or CannotExecute for a directory or an unreadable
// file); what it is, or what is wrong with it, is in the BinaryInfo.
Expected<BinaryInfo> probe_binary(const std::string& path);
// The same over bytes already open or in memory; `path` names the file in
// messages.
BinaryInfo probe_binary(const ByteSource& source, const std::string& path);

// One probe per program and run: each file's BinaryInfo, by path, read the
// first time anyone asks, or handed over by a caller that read the file for
// its own reasons (`xrun test`'s discovery maps the whole file once for the
// harness's kind and the listing cache's key, and probes those bytes), and
// shared by every later asker (routing, the launcher, a machine backend).
class ProgramProbes {
 public:
  // The probe of `path`; nullptr when the file cannot be read (not kept:
  // whoever says why reads it again, on that error path only).
  std::shared_ptr<const BinaryInfo> get(const std::string& path);
  // What a caller read itself; an earlier probe of `path` is replaced.
  std::shared_ptr<const BinaryInfo> put(const std::string& path, BinaryInfo info);
  // What is known of `path` without reading it; nullptr when nothing yet.
  const BinaryInfo* find(const std::string& path) const {
    auto known = probes_.find(path);
    return known == probes_.end() ? nullptr : known->second.get();
  }

 private:
  std::map<std::string, std::shared_ptr<const BinaryInfo>> probes_;
};

}  // namespace xrun
