#include "probe/elf_probe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "core/fs_util.h"

namespace xrun {

namespace {

constexpr std::uint32_t kPtDynamic = 2;
constexpr std::uint32_t kPtInterp = 3;
constexpr std::uint32_t kPtLoad = 1;
constexpr std::uint32_t kPtGnuProperty = 0x6474e553;
constexpr std::uint32_t kPfWrite = 2;
// The largest page size a loader maps with (qemu-user on an x86_64 host
// maps at 4 KiB; a segment's offset and address must agree modulo that).
constexpr std::uint64_t kHostPageSize = 4096;
// vm.mmap_min_addr's usual value (Debian, most distributions): no mapping below it.
constexpr std::uint64_t kLowestMappableAddress = 65536;
constexpr std::uint64_t kUserAddressSpace = 1ull << 47;  // x86_64's user half, where qemu-user maps a guest
constexpr std::uint32_t kShtArmAttributes = 0x70000003;
constexpr std::uint16_t kMachineArm = 40;
constexpr std::uint16_t kMachineAarch64 = 183;
constexpr std::uint16_t kMachineRiscv = 243;
constexpr std::uint8_t kOsAbiStandalone = 255;
// Machines that only microcontrollers have: no Linux runs on them.
constexpr std::uint16_t kMachineAvr = 83, kMachineMsp430 = 105;
constexpr std::uint32_t kArmFloatHard = 0x400;
constexpr std::uint32_t kArmFloatSoft = 0x200;
// Bounds on what we are willing to read, so a hostile header cannot make us
// allocate gigabytes.
constexpr std::uint64_t kMaxInterpreterLength = 4096;
constexpr std::uint64_t kMaxAttributesSize = 1 << 20;
constexpr std::uint64_t kMaxDynamicSize = 1 << 20;
constexpr std::uint64_t kDtNull = 0, kDtStrtab = 5, kDtStrsz = 10, kDtRpath = 15, kDtRunpath = 29;

// Reads from the file's bytes with explicit bounds against its size.
class ElfFile {
 public:
  ElfFile(const ByteSource& source, std::string path) : source_(source), path_(std::move(path)) {}

  std::uint64_t size() const { return source_.size(); }

  // Reads [offset, offset+length) or fails saying the file is truncated.
  Expected<std::vector<unsigned char>> read(std::uint64_t offset, std::uint64_t length, std::string_view what) const {
    if (!source_.holds(offset, length)) {
      return make_error(ExitCode::CannotExecute,
                        path_ + ": truncated or corrupt ELF file: " + std::string(what) + " at offset " +
                            std::to_string(offset) + " (+" + std::to_string(length) +
                            " bytes) lies beyond the end of the file (" + std::to_string(size()) + " bytes)");
    }
    std::vector<unsigned char> buffer;
    if (const int error = source_.read(offset, length, buffer); error != 0) {
      return make_error(ExitCode::CannotExecute, path_ + ": cannot read " + std::string(what) + ": " +
                                                     (error > 0 ? std::strerror(error) : "unexpected end of file"));
    }
    return buffer;
  }

 private:
  const ByteSource& source_;
  std::string path_;
};

// Decodes integers in the file's byte order.
struct Decoder {
  ByteOrder order;
  std::uint64_t get(const unsigned char* p, int bytes) const {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      const int index = order == ByteOrder::Little ? bytes - 1 - i : i;
      v = (v << 8) | p[index];
    }
    return v;
  }
  std::uint16_t u16(const unsigned char* p) const { return static_cast<std::uint16_t>(get(p, 2)); }
  std::uint32_t u32(const unsigned char* p) const { return static_cast<std::uint32_t>(get(p, 4)); }
  std::uint64_t u64(const unsigned char* p) const { return get(p, 8); }
};

std::uint64_t read_uleb(const unsigned char*& p, const unsigned char* end) {
  std::uint64_t value = 0;
  int shift = 0;
  while (p < end) {
    const unsigned char byte = *p++;
    if (shift < 64) value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    shift += 7;
    if ((byte & 0x80) == 0) break;
  }
  return value;
}

void skip_ntbs(const unsigned char*& p, const unsigned char* end) {
  while (p < end && *p != 0) ++p;
  if (p < end) ++p;
}

// Finds Tag_CPU_arch_profile (7) in the "aeabi" subsection of an ARM
// build-attributes section (ARM IHI 0045). Returns 0 when absent.
char parse_arm_profile(const std::vector<unsigned char>& data, const Decoder& d) {
  if (data.empty() || data[0] != 'A') return 0;
  const unsigned char* p = data.data() + 1;
  const unsigned char* end = data.data() + data.size();
  while (end - p >= 4) {
    const std::uint32_t length = d.u32(p);
    if (length < 4 || length > static_cast<std::uint64_t>(end - p)) return 0;
    const unsigned char* section_end = p + length;
    const unsigned char* q = p + 4;
    const std::string_view vendor(reinterpret_cast<const char*>(q),
                                  strnlen(reinterpret_cast<const char*>(q), section_end - q));
    q += vendor.size() + 1;
    if (vendor == "aeabi") {
      while (q < section_end && section_end - q >= 5) {
        const unsigned char* sub_start = q;
        const std::uint64_t sub_tag = read_uleb(q, section_end);
        if (section_end - q < 4) return 0;
        const std::uint32_t sub_size = d.u32(q);
        q += 4;
        if (sub_size < 5 || sub_size > static_cast<std::uint64_t>(section_end - sub_start)) return 0;
        const unsigned char* sub_end = sub_start + sub_size;
        if (sub_tag == 1) {  // Tag_File: attributes of the whole file
          while (q < sub_end) {
            const std::uint64_t tag = read_uleb(q, sub_end);
            if (tag == 7) return static_cast<char>(read_uleb(q, sub_end));
            if (tag == 4 || tag == 5 || tag == 65 || tag == 67 || (tag > 32 && tag % 2 == 1)) {
              skip_ntbs(q, sub_end);
            } else if (tag == 32) {  // Tag_compatibility: flag, then vendor name
              read_uleb(q, sub_end);
              skip_ntbs(q, sub_end);
            } else {
              read_uleb(q, sub_end);
            }
          }
        }
        q = sub_end;
      }
    }
    p = section_end;
  }
  return 0;
}

Expected<char> read_arm_profile(const ElfFile& file, const Decoder& d, bool is64,
                                const std::vector<unsigned char>& header) {
  const std::uint64_t shoff = is64 ? d.u64(&header[0x28]) : d.u32(&header[0x20]);
  const std::uint16_t shentsize = d.u16(&header[is64 ? 0x3a : 0x2e]);
  const std::uint16_t shnum = d.u16(&header[is64 ? 0x3c : 0x30]);
  if (shoff == 0 || shnum == 0) return char{0};  // stripped of section headers: unknown
  const std::uint16_t expected_entsize = is64 ? 64 : 40;
  if (shentsize != expected_entsize) return char{0};
  auto table = file.read(shoff, std::uint64_t{shnum} * shentsize, "the section header table");
  if (!table) return table.error();
  for (std::uint16_t i = 0; i < shnum; ++i) {
    const unsigned char* sh = table->data() + std::size_t{i} * shentsize;
    if (d.u32(sh + 4) != kShtArmAttributes) continue;
    const std::uint64_t offset = is64 ? d.u64(sh + 0x18) : d.u32(sh + 0x10);
    const std::uint64_t size = is64 ? d.u64(sh + 0x20) : d.u32(sh + 0x14);
    if (size > kMaxAttributesSize) return char{0};
    auto data = file.read(offset, size, "the .ARM.attributes section");
    if (!data) return data.error();
    return parse_arm_profile(*data, d);
  }
  return char{0};
}

// DT_RUNPATH (or DT_RPATH) of the dynamic segment at `dynamic`. Only a hint
// for what a VM must see, so anything malformed yields nothing rather than an
// error: the loader judges the file, not this.
std::vector<std::string> read_library_paths(const ElfFile& file, const Decoder& d, bool is64,
                                            const std::vector<unsigned char>& phdrs, std::uint16_t phnum,
                                            std::uint16_t phentsize, const unsigned char* dynamic) {
  const std::uint64_t offset = is64 ? d.u64(dynamic + 0x08) : d.u32(dynamic + 0x04);
  const std::uint64_t size = is64 ? d.u64(dynamic + 0x20) : d.u32(dynamic + 0x10);
  if (size > kMaxDynamicSize) return {};
  auto table = file.read(offset, size, "the dynamic section");
  if (!table) return {};
  const std::size_t entry = is64 ? 16 : 8;
  std::uint64_t strtab = 0, strsz = 0, rpath = ~0ull, runpath = ~0ull;
  for (std::size_t at = 0; at + entry <= table->size(); at += entry) {
    const unsigned char* e = table->data() + at;
    const std::uint64_t tag = is64 ? d.u64(e) : d.u32(e);
    const std::uint64_t value = is64 ? d.u64(e + 8) : d.u32(e + 4);
    if (tag == kDtNull) break;
    if (tag == kDtStrtab) strtab = value;
    if (tag == kDtStrsz) strsz = value;
    if (tag == kDtRpath) rpath = value;
    if (tag == kDtRunpath) runpath = value;
  }
  const std::uint64_t name = runpath != ~0ull ? runpath : rpath;
  if (name == ~0ull || strsz == 0 || name >= strsz || strsz > kMaxDynamicSize) return {};
  // DT_STRTAB is an address: find the PT_LOAD that holds it.
  std::optional<std::uint64_t> strtab_offset;
  for (std::uint16_t i = 0; i < phnum && !strtab_offset; ++i) {
    const unsigned char* ph = phdrs.data() + std::size_t{i} * phentsize;
    if (d.u32(ph) != kPtLoad) continue;
    const std::uint64_t p_offset = is64 ? d.u64(ph + 0x08) : d.u32(ph + 0x04);
    const std::uint64_t vaddr = is64 ? d.u64(ph + 0x10) : d.u32(ph + 0x08);
    const std::uint64_t filesz = is64 ? d.u64(ph + 0x20) : d.u32(ph + 0x10);
    if (strtab >= vaddr && strtab - vaddr < filesz) strtab_offset = p_offset + (strtab - vaddr);
  }
  if (!strtab_offset) return {};
  auto strings = file.read(*strtab_offset + name, strsz - name, "the dynamic string table");
  if (!strings) return {};
  const auto nul = std::find(strings->begin(), strings->end(), '\0');
  std::vector<std::string> paths = split_path_list(std::string(strings->begin(), nul));
  std::erase(paths, std::string());
  return paths;
}

// An aarch64 program's PT_GNU_PROPERTY (BTI and PAC markings), checked the
// way Linux and qemu-user check it before they run the file: both refuse a
// malformed one. "" when it is well formed, else what is wrong.
std::string gnu_property_problem(const ElfFile& file, const Decoder& d, bool is64, const unsigned char* ph) {
  const std::uint64_t offset = is64 ? d.u64(ph + 0x08) : d.u32(ph + 0x04);
  const std::uint64_t size = is64 ? d.u64(ph + 0x20) : d.u32(ph + 0x10);
  constexpr std::uint64_t kNoteHeader = 12, kNameSize = 4, kTypeGnuProperty0 = 5, kMaxSize = 1024;
  if (size < kNoteHeader + kNameSize || size > kMaxSize) return "of " + std::to_string(size) + " bytes";
  auto note = file.read(offset, size, "PT_GNU_PROPERTY");
  if (!note) return "beyond the end of the file";
  const unsigned char* n = note->data();
  if (d.u32(n) != kNameSize || d.u32(n + 8) != kTypeGnuProperty0 || std::memcmp(n + 12, "GNU", 4) != 0)
    return "that is not a GNU property note";
  const std::uint64_t end = kNoteHeader + kNameSize + std::uint64_t{d.u32(n + 4)};
  if (end > size) return "whose properties end beyond it";
  const std::uint64_t align = is64 ? 8 : 4;
  bool first = true;
  std::uint32_t previous = 0;
  for (std::uint64_t at = kNoteHeader + kNameSize; at != end;) {
    if (end - at < 8) return "with a cut property";
    const std::uint32_t type = d.u32(n + at), length = d.u32(n + at + 4);
    const std::uint64_t step = (std::uint64_t{length} + align - 1) / align * align;
    if (step > end - at - 8) return "with a property longer than the note";
    if (!first && type <= previous) return "with properties out of order";
    first = false;
    previous = type;
    at += 8 + step;
  }
  return "";
}

}  // namespace

bool ElfInfo::is_bare_metal() const {
  if (os_abi == kOsAbiStandalone || machine == kMachineAvr || machine == kMachineMsp430) return true;
  return machine == kMachineArm && !interpreter && arm_profile == 'M';
}

std::string ElfInfo::architecture() const {
  const bool is64 = elf_class == ElfClass::Elf64;
  switch (machine) {
    case 2:
      return "sparc";
    case 3:
      return "i386";
    case 8:
      return is64 ? "mips64" : "mips";
    case 20:
      return "ppc";
    case 21:
      return byte_order == ByteOrder::Little ? "ppc64le" : "ppc64";
    case 22:
      return is64 ? "s390x" : "s390";
    case 43:
      return "sparc64";
    case kMachineArm:
      return "arm";
    case 62:
      return "x86-64";
    case kMachineAvr:
      return "avr";
    case kMachineMsp430:
      return "msp430";
    case kMachineAarch64:
      return "aarch64";
    case kMachineRiscv:
      return is64 ? "riscv64" : "riscv32";
    case 258:
      return "loongarch64";
    default:
      return "machine " + std::to_string(machine);
  }
}

Libc ElfInfo::libc() const {
  if (!interpreter) return Libc::None;
  const std::string& interp = *interpreter;
  if (interp.find("ld-musl-") != std::string::npos) return Libc::Musl;
  if (interp.find("/ld-linux") != std::string::npos || interp.find("/ld64.so") != std::string::npos ||
      interp.find("/ld.so.1") != std::string::npos)
    return Libc::Glibc;
  return Libc::Other;
}

std::string ElfInfo::abi() const {
  if (machine == kMachineArm) {
    if (flags & kArmFloatHard) return "hard-float";
    if (flags & kArmFloatSoft) return "soft-float";
    return "";
  }
  if (machine == kMachineRiscv) {
    static constexpr const char* kFloat[] = {"", "f", "d", "q"};
    std::string base = elf_class == ElfClass::Elf64 ? "lp64" : "ilp32";
    if (flags & 0x8) base = "ilp32e";
    return base + kFloat[(flags >> 1) & 0x3];
  }
  return "";
}

std::string ElfInfo::describe() const {
  std::string out = elf_class == ElfClass::Elf64 ? "ELF 64-bit " : "ELF 32-bit ";
  out += byte_order == ByteOrder::Little ? "LSB" : "MSB";
  out += ", machine " + std::to_string(machine);
  if (auto a = abi(); !a.empty()) out += " (" + a + ")";
  if (is_bare_metal()) {
    out += ", bare metal";
  } else if (interpreter) {
    out += ", dynamic (" + *interpreter + ")";
  } else {
    out += is_static_pie() ? ", static-pie" : ", static";
  }
  return out;
}

std::optional<std::pair<int, int>> parse_glibc_version(std::string_view name) {
  if (name.rfind("GLIBC_", 0) != 0) return std::nullopt;
  int major = 0, minor = 0;
  if (std::sscanf(std::string(name.substr(6)).c_str(), "%d.%d", &major, &minor) < 1) return std::nullopt;
  return std::pair{major, minor};
}

namespace {

// The newest GLIBC_ version in the file's version needs (.gnu.version_r,
// found through the section headers); nullopt when it needs none or they
// cannot be read. Each name is read in a small window of the string table:
// a C++ program's table is large, the names sought are short.
std::optional<std::string> read_glibc_needed(const ElfFile& file, const std::vector<unsigned char>& header) {
  if (header.size() < 64) return std::nullopt;
  const bool is64 = header[4] == 2;
  const Decoder d{header[5] == 2 ? ByteOrder::Big : ByteOrder::Little};
  const std::uint64_t shoff = is64 ? d.u64(&header[0x28]) : d.u32(&header[0x20]);
  const std::uint16_t shentsize = d.u16(&header[is64 ? 0x3a : 0x2e]);
  const std::uint16_t shnum = d.u16(&header[is64 ? 0x3c : 0x30]);
  if (shoff == 0 || shnum == 0 || shentsize != (is64 ? 64 : 40)) return std::nullopt;
  auto table = file.read(shoff, std::uint64_t{shnum} * shentsize, "the section header table");
  if (!table) return std::nullopt;
  const auto section = [&](std::uint32_t index, std::uint64_t& offset, std::uint64_t& size) {
    const unsigned char* sh = table->data() + std::size_t{index} * shentsize;
    offset = is64 ? d.u64(sh + 0x18) : d.u32(sh + 0x10);
    size = is64 ? d.u64(sh + 0x20) : d.u32(sh + 0x14);
    return d.u32(sh + 4);
  };
  constexpr std::uint32_t kShtGnuVerneed = 0x6ffffffe;
  constexpr std::uint64_t kNameWindow = 32;  // "GLIBC_2.34" and its NUL, with room
  std::optional<std::pair<int, int>> highest;
  for (std::uint32_t i = 0; i < shnum; ++i) {
    std::uint64_t offset = 0, size = 0;
    if (section(i, offset, size) != kShtGnuVerneed || size > kMaxDynamicSize) continue;
    const unsigned char* sh = table->data() + std::size_t{i} * shentsize;
    const std::uint32_t link = d.u32(sh + (is64 ? 0x28 : 0x18));
    std::uint64_t str_offset = 0, str_size = 0;
    if (link >= shnum) return std::nullopt;
    section(link, str_offset, str_size);
    if (str_size > kMaxDynamicSize) return std::nullopt;
    auto needs = file.read(offset, size, "the version needs");
    if (!needs) return std::nullopt;
    // Elf{32,64}_Verneed: u16 version, u16 cnt, u32 file, u32 aux, u32 next;
    // Elf{32,64}_Vernaux: u32 hash, u16 flags, u16 other, u32 name, u32 next.
    std::uint64_t at = 0;
    for (int guard = 0; guard < 256 && at + 16 <= needs->size(); ++guard) {
      const unsigned char* vn = needs->data() + at;
      const std::uint16_t count = d.u16(vn + 2);
      std::uint64_t aux = at + d.u32(vn + 8);
      for (std::uint16_t k = 0; k < count && aux + 16 <= needs->size(); ++k) {
        const unsigned char* va = needs->data() + aux;
        const std::uint32_t name = d.u32(va + 8);
        if (name < str_size) {
          auto text = file.read(str_offset + name, std::min(kNameWindow, str_size - name), "a version name");
          if (!text) return std::nullopt;
          const char* chars = reinterpret_cast<const char*>(text->data());
          const auto version = parse_glibc_version(std::string_view(chars, strnlen(chars, text->size())));
          if (version && (!highest || *version > *highest)) highest = version;
        }
        const std::uint32_t next = d.u32(va + 12);
        if (next == 0) break;
        aux += next;
      }
      const std::uint32_t next = d.u32(vn + 12);
      if (next == 0) break;
      at += next;
    }
  }
  if (!highest) return std::nullopt;
  return std::to_string(highest->first) + "." + std::to_string(highest->second);
}

}  // namespace

std::optional<std::string> glibc_version_needed(const std::string& path) {
  auto opened = OpenedFile::open(path);
  if (!opened) return std::nullopt;
  const ByteSource source = (*opened)->source();
  const ElfFile file(source, path);
  auto header = file.read(0, 64, "the ELF header");
  if (!header || std::memcmp(header->data(),
                             "\x7f"
                             "ELF",
                             4) != 0)
    return std::nullopt;
  return read_glibc_needed(file, *header);
}

Expected<ElfInfo> probe_elf(const std::string& path) {
  auto opened = OpenedFile::open(path);
  if (!opened) return opened.error();
  return probe_elf((*opened)->source(), path);
}

Expected<ElfInfo> probe_elf(const ByteSource& source, const std::string& path) {
  const ElfFile file(source, path);
  if (file.size() < 16) {
    return make_error(ExitCode::CannotExecute,
                      path + ": not an ELF executable (" + std::to_string(file.size()) + " bytes)");
  }
  auto ident = file.read(0, 16, "the ELF identification");
  if (!ident) return ident.error();
  if (std::memcmp(ident->data(),
                  "\x7f"
                  "ELF",
                  4) != 0) {
    return make_error(ExitCode::CannotExecute, path + ": not an ELF executable");
  }
  ElfInfo info;
  const unsigned char ei_class = (*ident)[4], ei_data = (*ident)[5];
  if (ei_class != 1 && ei_class != 2)
    return make_error(ExitCode::CannotExecute,
                      path + ": corrupt ELF header: unknown class " + std::to_string(ei_class));
  if (ei_data != 1 && ei_data != 2)
    return make_error(ExitCode::CannotExecute,
                      path + ": corrupt ELF header: unknown byte order " + std::to_string(ei_data));
  info.elf_class = static_cast<ElfClass>(ei_class);
  info.byte_order = static_cast<ByteOrder>(ei_data);
  info.os_abi = (*ident)[7];
  if ((*ident)[6] != 1)
    return make_error(ExitCode::CannotExecute, path + ": corrupt ELF header: version " + std::to_string((*ident)[6]) +
                                                   " (EI_VERSION must be 1)");
  const bool is64 = info.elf_class == ElfClass::Elf64;
  const Decoder d{info.byte_order};

  auto header = file.read(0, is64 ? 64 : 52, "the ELF header");
  if (!header) return header.error();
  const auto& h = *header;
  info.type = d.u16(&h[0x10]);
  info.machine = d.u16(&h[0x12]);
  info.flags = d.u32(&h[is64 ? 0x30 : 0x24]);
  if (info.type != kElfTypeExec && info.type != kElfTypeDyn) {
    const char* what = info.type == 1 ? "a relocatable object file (.o)" : info.type == 4 ? "a core dump" : nullptr;
    return make_error(
        ExitCode::CannotExecute,
        path + ": not an executable: " + (what ? std::string(what) : "ELF type " + std::to_string(info.type)));
  }

  const std::uint64_t phoff = is64 ? d.u64(&h[0x20]) : d.u32(&h[0x1c]);
  const std::uint16_t phentsize = d.u16(&h[is64 ? 0x36 : 0x2a]);
  const std::uint16_t phnum = d.u16(&h[is64 ? 0x38 : 0x2c]);
  if (phnum == 0) return make_error(ExitCode::CannotExecute, path + ": corrupt ELF file: no program headers");
  if (phentsize != (is64 ? 56 : 32))
    return make_error(ExitCode::CannotExecute,
                      path + ": corrupt ELF header: program header size " + std::to_string(phentsize));
  // The kernel ignores e_ehsize; qemu-user refuses a file whose e_ehsize is
  // not the header's size ("Invalid ELF image for this architecture").
  const std::uint16_t ehsize = d.u16(&h[is64 ? 0x34 : 0x28]);
  if (ehsize != (is64 ? 64 : 52))
    return make_error(ExitCode::CannotExecute, path + ": corrupt ELF header: header size " + std::to_string(ehsize) +
                                                   " (e_ehsize must be " + (is64 ? "64" : "52") + ")");
  auto phdrs = file.read(phoff, std::uint64_t{phnum} * phentsize, "the program header table");
  if (!phdrs) return phdrs.error();

  // Bare metal first: what follows checks what Linux and qemu-user would map,
  // which firmware never meets (a Cortex-M image is linked at address 0, below
  // any page Linux maps, and was refused as corrupt).
  bool has_interpreter = false;
  for (std::uint16_t i = 0; i < phnum; ++i) {
    const std::uint32_t p_type = d.u32(phdrs->data() + std::size_t{i} * phentsize);
    has_interpreter = has_interpreter || p_type == kPtInterp;
    info.has_dynamic_section = info.has_dynamic_section || p_type == kPtDynamic;
  }
  std::optional<Expected<char>> arm_profile;
  if (info.machine == kMachineArm && !has_interpreter) {
    arm_profile = read_arm_profile(file, d, is64, h);
    if (*arm_profile) info.arm_profile = **arm_profile;
  }
  if (!has_interpreter && info.is_bare_metal()) return info;
  info.has_dynamic_section = false;  // set again below, with the library paths

  // What a loader would map: every PT_LOAD must lie within the file (a
  // truncated file otherwise dies of SIGBUS when the missing page is touched)
  // and be mappable (offset and address congruent modulo the page size).
  int loads = 0;
  std::uint64_t lowest = ~0ull, highest = 0, total_memory = 0;
  for (std::uint16_t i = 0; i < phnum; ++i) {
    const unsigned char* ph = phdrs->data() + std::size_t{i} * phentsize;
    if (d.u32(ph) != kPtLoad) continue;
    ++loads;
    const std::uint64_t offset = is64 ? d.u64(ph + 0x08) : d.u32(ph + 0x04);
    const std::uint64_t vaddr = is64 ? d.u64(ph + 0x10) : d.u32(ph + 0x08);
    const std::uint64_t filesz = is64 ? d.u64(ph + 0x20) : d.u32(ph + 0x10);
    const std::uint64_t memsz = is64 ? d.u64(ph + 0x28) : d.u32(ph + 0x14);
    const std::uint64_t align = is64 ? d.u64(ph + 0x30) : d.u32(ph + 0x1c);
    const std::string which = "segment " + std::to_string(i) + " (PT_LOAD)";
    if (offset > file.size() || filesz > file.size() - offset)
      return make_error(ExitCode::CannotExecute, path + ": truncated ELF file: " + which + " ends at byte " +
                                                     std::to_string(offset + filesz) + ", the file has " +
                                                     std::to_string(file.size()));
    if (filesz > memsz)
      return make_error(ExitCode::CannotExecute,
                        path + ": corrupt ELF file: " + which + " is larger in the file than in memory");
    // The part of a segment beyond its file bytes is zeroed by the loader:
    // qemu-user (7.2) writes those zeroes into a segment mapped without
    // write permission, and dies of SIGSEGV. Linkers put .bss in a writable
    // segment; a read-only one with it is corrupt.
    const std::uint32_t p_flags = d.u32(ph + (is64 ? 0x04 : 0x18));
    if (memsz > filesz && !(p_flags & kPfWrite))
      return make_error(ExitCode::CannotExecute, path + ": corrupt ELF file: " + which +
                                                     " is not writable but larger in memory than in the file");
    // qemu-user sizes the image from every PT_LOAD's last byte: an empty one
    // wraps that to the top of the address space and the file is refused.
    if (memsz == 0)
      return make_error(ExitCode::CannotExecute, path + ": corrupt ELF file: " + which + " is empty (p_memsz 0)");
    if (vaddr + memsz < vaddr || (!is64 && vaddr + memsz > 0x100000000ull))
      return make_error(ExitCode::CannotExecute,
                        path + ": corrupt ELF file: " + which + " ends beyond the address space");
    lowest = std::min(lowest, vaddr & ~(kHostPageSize - 1));
    highest = std::max(highest, vaddr + memsz);
    total_memory = memsz > ~0ull - total_memory ? ~0ull : total_memory + memsz;
    // A fixed-address program mapped at the lowest pages: the kernel
    // refuses those mappings (vm.mmap_min_addr), and so does qemu-user.
    if (info.type == kElfTypeExec && vaddr < kLowestMappableAddress)
      return make_error(ExitCode::CannotExecute, path + ": corrupt ELF file: " + which + " is at address " +
                                                     std::to_string(vaddr) + ", below the lowest mappable page");
    if (align > 1 && (align & (align - 1)) != 0)
      return make_error(ExitCode::CannotExecute, path + ": corrupt ELF file: " + which + " has an alignment of " +
                                                     std::to_string(align) + ", not a power of two");
    if ((offset % kHostPageSize) != (vaddr % kHostPageSize) || (align > 1 && offset % align != vaddr % align))
      return make_error(ExitCode::CannotExecute, path + ": corrupt ELF file: " + which +
                                                     " cannot be mapped (its offset and address are misaligned)");
  }
  if (loads == 0) return make_error(ExitCode::CannotExecute, path + ": corrupt ELF file: nothing to load (no PT_LOAD)");
  // What qemu-user reserves for the image: its segments' whole span, in the
  // host's 47-bit user address space (at their own addresses for a fixed-
  // address program), and their memory, which the kernel must be willing to
  // commit.
  if (is64 && (highest - lowest > kUserAddressSpace || (info.type == kElfTypeExec && highest > kUserAddressSpace)))
    return make_error(ExitCode::CannotExecute, path + ": corrupt ELF file: its segments span " +
                                                   std::to_string(highest - lowest) +
                                                   " bytes, beyond a 47-bit address space");
  struct sysinfo machine {};
  if (::sysinfo(&machine) == 0) {
    const std::uint64_t available = (std::uint64_t{machine.totalram} + machine.totalswap) * machine.mem_unit;
    if (available > 0 && total_memory > available)
      return make_error(ExitCode::CannotExecute, path + ": its segments need " + std::to_string(total_memory >> 20) +
                                                     " MiB of memory, more than this machine has (" +
                                                     std::to_string(available >> 20) + " MiB)");
  }

  for (std::uint16_t i = 0; i < phnum; ++i) {
    const unsigned char* ph = phdrs->data() + std::size_t{i} * phentsize;
    const std::uint32_t p_type = d.u32(ph);
    if (p_type == kPtGnuProperty && info.machine == kMachineAarch64)
      if (const std::string problem = gnu_property_problem(file, d, is64, ph); !problem.empty())
        return make_error(ExitCode::CannotExecute, path + ": corrupt ELF file: a PT_GNU_PROPERTY " + problem);
    if (p_type == kPtDynamic && !info.has_dynamic_section) {
      info.has_dynamic_section = true;
      info.library_paths = read_library_paths(file, d, is64, *phdrs, phnum, phentsize, ph);
    }
    if (p_type != kPtInterp) continue;
    if (info.interpreter)
      return make_error(ExitCode::CannotExecute, path + ": corrupt ELF file: two interpreters (PT_INTERP)");
    const std::uint64_t offset = is64 ? d.u64(ph + 0x08) : d.u32(ph + 0x04);
    const std::uint64_t size = is64 ? d.u64(ph + 0x20) : d.u32(ph + 0x10);
    if (size == 0 || size > kMaxInterpreterLength)
      return make_error(ExitCode::CannotExecute,
                        path + ": corrupt ELF file: interpreter name of " + std::to_string(size) + " bytes");
    auto interp = file.read(offset, size, "the interpreter name (PT_INTERP)");
    if (!interp) return interp.error();
    // As Linux and qemu-user read it: a NUL-terminated name filling the
    // segment (its last byte the NUL), and an absolute path.
    const auto nul = std::find(interp->begin(), interp->end(), '\0');
    if (nul == interp->end() || nul == interp->begin() || nul + 1 != interp->end())
      return make_error(ExitCode::CannotExecute, path + ": corrupt ELF file: malformed interpreter name");
    info.interpreter = std::string(interp->begin(), nul);
    if ((*info.interpreter)[0] != '/')
      return make_error(ExitCode::CannotExecute,
                        path + ": corrupt ELF file: interpreter " + *info.interpreter + " is not an absolute path");
  }

  if (arm_profile && !*arm_profile) return arm_profile->error();
  if (info.libc() == Libc::Glibc) {
    if (auto whole = file.read(0, std::min<std::uint64_t>(64, file.size()), "the ELF header"))
      info.glibc_needed = read_glibc_needed(file, *whole);
  }
  return info;
}

}  // namespace xrun
