#include "binfmt/binfmt.h"

#include <dirent.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/suggest.h"
#include "launch/launcher.h"

namespace xrun {

namespace {

std::string elf_magic(const TargetSpec& spec, std::string* mask) {
  const bool little = spec.byte_order == ByteOrder::Little;
  std::string magic =
      "\x7f"
      "ELF";
  magic += static_cast<char>(spec.elf_class == ElfClass::Elf64 ? 2 : 1);
  magic += static_cast<char>(little ? 1 : 2);
  magic += '\x01';                // EI_VERSION
  magic += std::string(9, '\0');  // EI_OSABI (masked out), EI_ABIVERSION and padding
  const auto put16 = [&](std::string& out, unsigned value) {
    const char lo = static_cast<char>(value & 0xff), hi = static_cast<char>(value >> 8);
    out += little ? lo : hi;
    out += little ? hi : lo;
  };
  put16(magic, 2);  // e_type ET_EXEC; the mask lets ET_DYN (3) through too
  put16(magic, spec.elf_machine);
  *mask = std::string(7, '\xff') + '\x00' + std::string(8, '\xff');
  put16(*mask, 0xfffe);
  *mask += "\xff\xff";
  return magic;
}

// binfmt_misc's register syntax: every byte as \xHH.
std::string escaped(const std::string& bytes) { return to_hex(bytes, "\\x"); }

Expected<void> write_control(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "we");
  if (f == nullptr) {
    const int err = errno;
    if (err == EACCES || err == EPERM)
      return make_error(ExitCode::Usage, "writing " + path + " needs root: run it with sudo");
    return make_error(ExitCode::InfraError, "cannot open " + path + ": " + std::strerror(err));
  }
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int err = errno;
  if (std::fclose(f) != 0 || !written)
    return make_error(ExitCode::InfraError,
                      "the kernel refused " + quoted(text) + " in " + path + ": " + std::strerror(errno ? errno : err));
  return {};
}

Expected<void> check_mounted(const std::string& dir) {
  if (!path_exists(dir + "/register"))
    return make_error(ExitCode::Usage, "binfmt_misc is not mounted at " + dir +
                                           ": mount it with `mount -t binfmt_misc binfmt_misc " + dir + "` (as root)");
  return {};
}

}  // namespace

std::string to_hex(const std::string& bytes, const char* prefix) {
  std::string out;
  char buffer[8];
  for (unsigned char c : bytes) {
    std::snprintf(buffer, sizeof buffer, "%s%02x", prefix, c);
    out += buffer;
  }
  return out;
}

Expected<std::vector<BinfmtRegistration>> binfmt_registrations(const TargetTable& table,
                                                               const std::vector<std::string>& only) {
  for (const auto& name : only) {
    if (table.find(name) == nullptr)
      return make_error(ExitCode::Usage, "unknown target " + quoted(name) + did_you_mean(name, table.names()));
  }
  const std::string host = host_machine();
  std::vector<BinfmtRegistration> all;
  std::map<std::string, std::size_t> by_qemu;
  for (const auto& spec : table.targets()) {
    if (host_runs_target(spec)) continue;  // what the kernel runs itself needs no registration
    const std::string key = spec.qemu.substr(spec.qemu.rfind('-') + 1);  // qemu-arm -> arm
    auto [it, added] = by_qemu.emplace(key, all.size());
    if (added) {
      BinfmtRegistration r;
      r.name = kBinfmtPrefix + key;
      r.magic = elf_magic(spec, &r.mask);
      all.push_back(std::move(r));
    }
    all[it->second].targets.push_back(spec.name);
  }
  // --arch picks registrations; each still lists every target it covers.
  std::vector<BinfmtRegistration> out;
  for (auto& r : all) {
    const bool wanted = only.empty() || std::any_of(only.begin(), only.end(), [&](const std::string& n) {
                          return std::find(r.targets.begin(), r.targets.end(), table.find(n)->name) != r.targets.end();
                        });
    if (wanted) out.push_back(std::move(r));
  }
  if (!only.empty() && out.empty())
    return make_error(ExitCode::Usage, "this machine runs those targets natively: nothing to register");
  return out;
}

std::string binfmt_register_line(const BinfmtRegistration& r, const std::string& interpreter) {
  return ":" + r.name + ":M::" + escaped(r.magic) + ":" + escaped(r.mask) + ":" + interpreter + ":PF";
}

Expected<std::vector<BinfmtEntry>> read_binfmt_entries(const std::string& dir) {
  if (auto mounted = check_mounted(dir); !mounted) return mounted.error();
  std::vector<BinfmtEntry> entries;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return make_error(ExitCode::InfraError, "cannot read " + dir + ": " + std::strerror(errno));
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name == "register" || name == "status") continue;
    auto text = read_file(dir + "/" + name);
    if (!text) continue;
    BinfmtEntry entry;
    entry.name = name;
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);) {
      if (line == "enabled")
        entry.enabled = true;
      else if (line.rfind("interpreter ", 0) == 0)
        entry.interpreter = line.substr(12);
      else if (line.rfind("flags: ", 0) == 0)
        entry.flags = line.substr(7);
      else if (line.rfind("offset ", 0) == 0)
        entry.offset = std::atoi(line.c_str() + 7);
      else if (line.rfind("magic ", 0) == 0)
        entry.magic_hex = line.substr(6);
      else if (line.rfind("mask ", 0) == 0)
        entry.mask_hex = line.substr(5);
    }
    entries.push_back(std::move(entry));
  }
  ::closedir(d);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return entries;
}

bool binfmt_overlaps(const BinfmtEntry& entry, const BinfmtRegistration& r) {
  if (entry.offset != 0 || entry.magic_hex.empty()) return false;
  // Both match a file whose first bytes equal our magic: compare under both masks.
  const std::string mine = to_hex(r.magic);
  const std::size_t n = std::min(entry.magic_hex.size(), mine.size()) / 2;
  for (std::size_t i = 0; i < n; ++i) {
    const auto byte = [](const std::string& hex, std::size_t at) {
      return static_cast<unsigned>(std::strtoul(hex.substr(at * 2, 2).c_str(), nullptr, 16));
    };
    const unsigned their_mask = entry.mask_hex.size() >= (i + 1) * 2 ? byte(entry.mask_hex, i) : 0xff;
    const unsigned mask = their_mask & static_cast<unsigned char>(r.mask[i]);
    if ((byte(entry.magic_hex, i) & mask) != (byte(mine, i) & mask)) return false;
  }
  return true;
}

Expected<std::vector<std::string>> binfmt_install(const std::vector<BinfmtRegistration>& registrations,
                                                  const std::string& interpreter, const std::string& dir) {
  auto entries = read_binfmt_entries(dir);
  if (!entries) return entries.error();
  std::vector<std::string> done;
  for (const auto& r : registrations) {
    std::string targets;
    for (const auto& t : r.targets) targets += (targets.empty() ? "" : ", ") + t;
    const auto existing =
        std::find_if(entries->begin(), entries->end(), [&](const auto& e) { return e.name == r.name; });
    if (existing != entries->end()) {
      if (existing->interpreter == interpreter && existing->magic_hex == to_hex(r.magic) &&
          existing->flags.find('P') != std::string::npos && existing->enabled) {
        done.push_back(r.name + ": already registered (" + targets + ")");
        continue;
      }
      // Registered by another xrun (another path or version): replace it.
      if (auto removed = write_control(dir + "/" + r.name, "-1"); !removed) return removed.error();
    }
    if (auto written = write_control(dir + "/register", binfmt_register_line(r, interpreter)); !written)
      return written.error();
    std::string line = r.name + ": registered for " + targets + " -> " + interpreter;
    for (const auto& e : *entries) {
      if (e.name != r.name && e.enabled && binfmt_overlaps(e, r))
        line += "\n  warning: " + e.name + " (" + e.interpreter +
                ") matches the same files; disable it with `echo 0 > " + dir + "/" + e.name +
                "` to be sure xrun runs them";
    }
    done.push_back(line);
  }
  return done;
}

Expected<std::vector<std::string>> binfmt_uninstall(const std::vector<BinfmtRegistration>& registrations,
                                                    const std::string& dir) {
  auto entries = read_binfmt_entries(dir);
  if (!entries) return entries.error();
  std::vector<std::string> done;
  for (const auto& r : registrations) {
    const bool present = std::any_of(entries->begin(), entries->end(), [&](const auto& e) { return e.name == r.name; });
    if (!present) continue;
    if (auto removed = write_control(dir + "/" + r.name, "-1"); !removed) return removed.error();
    done.push_back(r.name + ": removed");
  }
  if (done.empty()) done.push_back("nothing to remove: no xrun registrations");
  return done;
}

Expected<std::string> binfmt_status(const std::vector<BinfmtRegistration>& registrations, const std::string& dir) {
  auto entries = read_binfmt_entries(dir);
  if (!entries) return entries.error();
  std::string out;
  for (const auto& r : registrations) {
    std::string targets;
    for (const auto& t : r.targets) targets += (targets.empty() ? "" : ", ") + t;
    const auto mine = std::find_if(entries->begin(), entries->end(), [&](const auto& e) { return e.name == r.name; });
    out += r.name + " (" + targets + "): ";
    if (mine == entries->end())
      out += "not registered";
    else
      out += std::string(mine->enabled ? "registered" : "registered but disabled") + " -> " + mine->interpreter +
             " (flags " + mine->flags + ")";
    out += "\n";
    for (const auto& e : *entries) {
      if (e.name != r.name && binfmt_overlaps(e, r))
        out += "  " + std::string(e.enabled ? "conflict: " : "also (disabled): ") + e.name + " -> " + e.interpreter +
               " matches the same files\n";
    }
  }
  std::string others;
  for (const auto& e : *entries) {
    if (e.name.rfind(kBinfmtPrefix, 0) == 0) continue;
    others += "  " + e.name + (e.enabled ? "" : " (disabled)") + " -> " + e.interpreter + "\n";
  }
  if (!others.empty()) out += "registered by others:\n" + others;
  return out;
}

std::optional<BinfmtInvocation> binfmt_invocation(int argc, char** argv) {
  // Started by binfmt_misc with flag P, argv is [xrun, program, argv0, args...]
  // and AT_EXECFN is the program's path as given to execve. Started directly,
  // AT_EXECFN is xrun's own path.
  const char* execfn = reinterpret_cast<const char*>(::getauxval(AT_EXECFN));
  if (execfn == nullptr || argc < 3 || std::strcmp(execfn, argv[1]) != 0) return std::nullopt;
  char self[PATH_MAX], program[PATH_MAX];
  if (::realpath("/proc/self/exe", self) && ::realpath(execfn, program) && std::strcmp(self, program) == 0)
    return std::nullopt;  // xrun run under its own name (e.g. a symlink given itself as argument)
  BinfmtInvocation invocation{argv[1], argv[2], {}};
  for (int i = 3; i < argc; ++i) invocation.args.emplace_back(argv[i]);
  return invocation;
}

}  // namespace xrun
