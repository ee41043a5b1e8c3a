#include "probe/binary_probe.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

namespace xrun {

namespace {

// Reads [offset, offset + length) when the file holds it; nullopt otherwise
// (the caller says what a short file means for its format).
std::optional<std::vector<unsigned char>> read_at(const ByteSource& source, std::uint64_t offset,
                                                  std::uint64_t length) {
  if (!source.holds(offset, length)) return std::nullopt;
  std::vector<unsigned char> bytes;
  if (source.read(offset, length, bytes) != 0) return std::nullopt;
  return bytes;
}

std::uint16_t le16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
std::uint32_t le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// ------------------------------------------------------------- PE/COFF ---

// Where the PE header may start: a DOS stub is small; a larger e_lfanew is a
// file that only looks like one.
constexpr std::uint32_t kMaxPeHeaderOffset = 1 << 20;
constexpr std::uint16_t kPe32Magic = 0x10b, kPe32PlusMagic = 0x20b;

// "MZ" at 0 and "PE\0\0" at e_lfanew: a PE file (else nullopt: an MS-DOS
// program or something else that starts with "MZ" is not one).
std::optional<BinaryInfo> probe_pe(const ByteSource& source, const std::string& path) {
  auto dos = read_at(source, 0, 0x40);
  if (!dos || (*dos)[0] != 'M' || (*dos)[1] != 'Z') return std::nullopt;
  const std::uint32_t header = le32(dos->data() + 0x3c);
  if (header < 0x40 || header > kMaxPeHeaderOffset) return std::nullopt;
  auto signature = read_at(source, header, 4);
  if (!signature || std::memcmp(signature->data(), "PE\0\0", 4) != 0) return std::nullopt;

  BinaryInfo info;
  info.format = BinaryFormat::Pe;
  const auto corrupt = [&](const std::string& why) {
    info.problem = make_error(ExitCode::CannotExecute, path + ": truncated or corrupt PE file: " + why);
    return info;
  };
  // COFF header: Machine, NumberOfSections, TimeDateStamp, PointerToSymbolTable,
  // NumberOfSymbols, SizeOfOptionalHeader, Characteristics (20 bytes).
  auto coff = read_at(source, std::uint64_t{header} + 4, 20);
  if (!coff) return corrupt("its COFF header lies beyond the end of the file");
  PeInfo pe;
  pe.machine = le16(coff->data());
  const std::uint16_t optional_size = le16(coff->data() + 16);
  pe.characteristics = le16(coff->data() + 18);
  info.pe = pe;
  // The optional header up to Subsystem (offset 68 in both PE32 and PE32+),
  // and its data directories as far as the CLR header's (the 15th).
  if (optional_size < 70) return corrupt("an optional header of " + std::to_string(optional_size) + " bytes");
  const std::uint64_t optional_at = std::uint64_t{header} + 24;
  auto optional = read_at(source, optional_at, std::min<std::uint64_t>(optional_size, 240));
  if (!optional) return corrupt("its optional header lies beyond the end of the file");
  const std::uint16_t magic = le16(optional->data());
  if (magic != kPe32Magic && magic != kPe32PlusMagic) return corrupt("optional header magic " + std::to_string(magic));
  info.pe->pe32_plus = magic == kPe32PlusMagic;
  info.pe->subsystem = le16(optional->data() + 68);
  const std::size_t directories = info.pe->pe32_plus ? 112 : 96;
  const std::size_t count_at = directories - 4;  // NumberOfRvaAndSizes
  constexpr std::uint32_t kClrDirectory = 14;
  if (optional->size() >= directories + (kClrDirectory + 1) * 8 && le32(optional->data() + count_at) > kClrDirectory) {
    const unsigned char* clr = optional->data() + directories + kClrDirectory * 8;
    info.pe->dotnet = le32(clr) != 0 && le32(clr + 4) != 0;
  }
  return info;
}

// --------------------------------------------------------- WebAssembly ---

// Sections are read up to the memory section (5): imports (2) and memory
// come early, before the code. A module of more sections before it than this
// is not read further (what was read stands).
constexpr int kMaxWasmSections = 64;
constexpr std::uint64_t kMaxImportSectionSize = 1 << 20;
constexpr std::uint8_t kWasmImportSection = 2, kWasmMemorySection = 5;

// A LEB128 reader over a buffer; `ok` turns false at the first byte missing
// or a number too long for 64 bits.
struct Leb {
  const unsigned char* p;
  const unsigned char* end;
  bool ok = true;

  std::uint64_t uleb() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) break;
      const unsigned char byte = *p++;
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    ok = false;
    return 0;
  }
  unsigned char byte() {
    if (p >= end) {
      ok = false;
      return 0;
    }
    return *p++;
  }
  std::string_view name() {
    const std::uint64_t length = uleb();
    if (!ok || length > static_cast<std::uint64_t>(end - p)) {
      ok = false;
      return {};
    }
    const std::string_view text(reinterpret_cast<const char*>(p), length);
    p += length;
    return text;
  }
  // limits: a flag byte (bit 0: a maximum follows; bit 2: 64-bit), a minimum, a maximum.
  bool limits_are_64bit() {
    const unsigned char flags = byte();
    uleb();
    if (flags & 1) uleb();
    return (flags & 4) != 0;
  }
};

// What the import section says: the WASI module imported from, and whether
// an imported memory is 64-bit. Stops at the first entry it cannot read.
void read_wasm_imports(const std::vector<unsigned char>& section, WasmInfo& wasm) {
  Leb in{section.data(), section.data() + section.size()};
  const std::uint64_t count = in.uleb();
  for (std::uint64_t i = 0; i < count && in.ok; ++i) {
    const std::string_view module = in.name();
    in.name();  // the field
    if (!in.ok) return;
    if (wasm.wasi_module.empty() && (module == "wasi_snapshot_preview1" || module == "wasi_unstable"))
      wasm.wasi_module = std::string(module);
    switch (in.byte()) {
      case 0x00:  // a function: its type index
        in.uleb();
        break;
      case 0x01:  // a table: its element type, its limits
        in.byte();
        in.limits_are_64bit();
        break;
      case 0x02:  // a memory
        wasm.memory64 = in.limits_are_64bit() || wasm.memory64;
        break;
      case 0x03:  // a global: a value type, mutability
        in.byte();
        in.byte();
        break;
      case 0x04:  // a tag (exception handling): an attribute, a type index
        in.byte();
        in.uleb();
        break;
      default:  // a kind of import this reader does not know: the rest cannot be read
        return;
    }
  }
}

BinaryInfo probe_wasm(const ByteSource& source, const std::string& path) {
  BinaryInfo info;
  info.format = BinaryFormat::Wasm;
  auto preamble = read_at(source, 0, 8);
  if (!preamble) {
    info.problem = make_error(ExitCode::CannotExecute,
                              path + ": truncated WebAssembly module (" + std::to_string(source.size()) + " bytes)");
    return info;
  }
  WasmInfo wasm;
  wasm.version = le16(preamble->data() + 4);
  wasm.layer = le16(preamble->data() + 6);
  info.wasm = wasm;
  if (wasm.layer != 0) return info;  // a component: its sections are of another kind
  std::uint64_t at = 8;
  for (int n = 0; n < kMaxWasmSections && at < source.size(); ++n) {
    // A section: its id (a byte), its size (a LEB128 of up to 5 bytes), its content.
    auto head = read_at(source, at, std::min<std::uint64_t>(6, source.size() - at));
    if (!head) break;
    Leb in{head->data() + 1, head->data() + head->size()};
    const std::uint8_t id = (*head)[0];
    const std::uint64_t size = in.uleb();
    if (!in.ok) break;
    const std::uint64_t content = at + static_cast<std::uint64_t>(in.p - head->data());
    if (!source.holds(content, size)) break;
    if (id == kWasmImportSection && size <= kMaxImportSectionSize) {
      if (auto section = read_at(source, content, size)) read_wasm_imports(*section, *info.wasm);
    } else if (id == kWasmMemorySection) {
      if (auto section = read_at(source, content, std::min<std::uint64_t>(size, 32))) {
        Leb memories{section->data(), section->data() + section->size()};
        if (memories.uleb() > 0 && memories.ok && memories.limits_are_64bit()) info.wasm->memory64 = true;
      }
    }
    if (id != 0 && id >= kWasmMemorySection) break;  // custom sections (0) go anywhere
    at = content + size;
  }
  return info;
}

// The interpreter of a "#!" line, as the kernel reads it: the first word
// after "#!" within the line's first 256 bytes (BINPRM_BUF_SIZE).
std::string script_interpreter(const ByteSource& source) {
  std::vector<unsigned char> line;
  if (source.read(0, std::min<std::uint64_t>(source.size(), 256), line) != 0) return "";
  std::string_view text(reinterpret_cast<const char*>(line.data()), line.size());
  text.remove_prefix(2);
  text = text.substr(0, text.find('\n'));
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return "";
  text.remove_prefix(begin);
  return std::string(text.substr(0, text.find_first_of(" \t\r")));
}

}  // namespace

std::string PeInfo::architecture() const {
  switch (machine) {
    case 0x8664:
      return "x86-64";
    case 0x14c:
      return "i386";
    case 0xaa64:
      return "arm64";
    case 0xa641:
      return "arm64ec";
    case 0x1c0:
    case 0x1c2:
    case 0x1c4:
      return "arm";
    case 0x5064:
      return "riscv64";
    case 0x200:
      return "ia64";
    default: {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%04x", machine);
      return std::string("machine ") + hex;
    }
  }
}

std::string PeInfo::subsystem_name() const {
  switch (subsystem) {
    case 1:
      return "native";
    case 2:
      return "GUI";
    case 3:
      return "console";
    case 9:
      return "Windows CE GUI";
    case 10:
      return "EFI application";
    case 11:
      return "EFI boot service driver";
    case 12:
      return "EFI runtime driver";
    case 13:
      return "EFI ROM";
    case 16:
      return "Windows boot application";
    default:
      return "subsystem " + std::to_string(subsystem);
  }
}

std::string BinaryInfo::architecture() const {
  if (elf) return elf->architecture();
  if (pe) return pe->architecture();
  if (wasm) return wasm->memory64 ? "wasm64" : "wasm32";
  return "";
}

int BinaryInfo::bits() const {
  if (elf) return elf->elf_class == ElfClass::Elf64 ? 64 : 32;
  if (pe && problem == std::nullopt) return pe->pe32_plus ? 64 : 32;
  if (wasm && !wasm->is_component()) return wasm->memory64 ? 64 : 32;
  return 0;
}

ProgramOs BinaryInfo::os() const {
  if (elf) return elf->is_bare_metal() ? ProgramOs::None : ProgramOs::Linux;
  if (pe) return pe->subsystem >= 10 && pe->subsystem <= 13 ? ProgramOs::Uefi : ProgramOs::Windows;
  if (wasm && !wasm->wasi_module.empty()) return ProgramOs::Wasi;
  return ProgramOs::Unknown;
}

std::string BinaryInfo::describe() const {
  switch (format) {
    case BinaryFormat::Elf:
      return elf ? elf->describe() : "an ELF file";
    case BinaryFormat::Pe: {
      if (!pe || problem) return "a PE/COFF file";
      if (os() == ProgramOs::Uefi) return "an " + pe->subsystem_name() + " (PE " + pe->architecture() + ")";
      std::string out = "a Windows PE " + pe->architecture() + (pe->is_dll() ? " DLL" : " program");
      std::vector<std::string> notes;
      if (!pe->is_dll()) notes.push_back(pe->subsystem_name());
      if (pe->dotnet) notes.push_back(".NET");
      for (std::size_t i = 0; i < notes.size(); ++i) out += (i ? ", " : " (") + notes[i];
      return notes.empty() ? out : out + ")";
    }
    case BinaryFormat::Wasm: {
      if (!wasm) return "a WebAssembly file";
      if (wasm->is_component()) return "a WebAssembly component";
      std::string out = "a WebAssembly module (" + architecture();
      if (wasm->version != 1) out += ", binary version " + std::to_string(wasm->version);
      if (wasm->wasi_module == "wasi_snapshot_preview1") out += ", WASI preview 1";
      if (wasm->wasi_module == "wasi_unstable") out += ", WASI (wasi_unstable)";
      if (wasm->wasi_module.empty()) out += ", no WASI imports";
      return out + ")";
    }
    case BinaryFormat::Script:
      return "a script (#!" + interpreter + ")";
    case BinaryFormat::Unknown:
      break;
  }
  return "a file of no format xrun knows";
}

std::string_view format_name(BinaryFormat format) {
  switch (format) {
    case BinaryFormat::Elf:
      return "ELF";
    case BinaryFormat::Pe:
      return "PE/COFF";
    case BinaryFormat::Wasm:
      return "WebAssembly";
    case BinaryFormat::Script:
      return "script";
    case BinaryFormat::Unknown:
      break;
  }
  return "unknown";
}

std::string_view programs_of(BinaryFormat format) {
  switch (format) {
    case BinaryFormat::Elf:
      return "ELF programs";
    case BinaryFormat::Pe:
      return "Windows programs";
    case BinaryFormat::Wasm:
      return "WebAssembly modules";
    case BinaryFormat::Script:
      return "scripts";
    case BinaryFormat::Unknown:
      break;
  }
  return "files of no known format";
}

std::string_view os_name(ProgramOs os) {
  switch (os) {
    case ProgramOs::Linux:
      return "linux";
    case ProgramOs::None:
      return "none";
    case ProgramOs::Windows:
      return "windows";
    case ProgramOs::Uefi:
      return "uefi";
    case ProgramOs::Wasi:
      return "wasi";
    case ProgramOs::Unknown:
      break;
  }
  return "unknown";
}

BinaryInfo probe_binary(const ByteSource& source, const std::string& path) {
  std::vector<unsigned char> magic;
  const std::uint64_t head = std::min<std::uint64_t>(source.size(), 4);
  if (source.read(0, head, magic) != 0) magic.clear();
  const auto starts_with = [&](std::string_view prefix) {
    return magic.size() >= prefix.size() && std::memcmp(magic.data(), prefix.data(), prefix.size()) == 0;
  };
  BinaryInfo info;
  if (starts_with("#!")) {
    info.format = BinaryFormat::Script;
    info.interpreter = script_interpreter(source);
  } else if (starts_with(std::string_view("\0asm", 4))) {
    info = probe_wasm(source, path);
  } else if (starts_with("MZ")) {
    if (auto pe = probe_pe(source, path)) info = std::move(*pe);
  }
  if (info.format == BinaryFormat::Unknown) {
    // ELF, or what the ELF probe says a file of no known format is ("not an
    // ELF executable"): the message every launcher has given.
    auto elf = probe_elf(source, path);
    if (starts_with("\x7f"
                    "ELF"))
      info.format = BinaryFormat::Elf;
    if (elf)
      info.elf = std::move(*elf);
    else
      info.problem = elf.error();
  }
  info.size = source.size();
  return info;
}

Expected<BinaryInfo> probe_binary(const std::string& path) {
  auto opened = OpenedFile::open(path);
  if (!opened) return opened.error();
  return probe_binary((*opened)->source(), path);
}

std::shared_ptr<const BinaryInfo> ProgramProbes::get(const std::string& path) {
  if (auto known = probes_.find(path); known != probes_.end()) return known->second;
  auto probed = probe_binary(path);
  if (!probed) return nullptr;
  return put(path, std::move(*probed));
}

std::shared_ptr<const BinaryInfo> ProgramProbes::put(const std::string& path, BinaryInfo info) {
  auto shared = std::make_shared<const BinaryInfo>(std::move(info));
  probes_[path] = shared;
  return shared;
}

}  // namespace xrun
