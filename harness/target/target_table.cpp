#include "target/target_table.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cstdlib>

#include "config/toml_util.h"
#include "core/diagnostics.h"

namespace xrun {

namespace {

std::vector<std::string> string_array(const toml::node_view<const toml::node>& node) {
  std::vector<std::string> out;
  if (auto array = node.as_array()) {
    for (const auto& element : *array)
      if (auto s = element.value<std::string>()) out.push_back(*s);
  }
  return out;
}

}  // namespace

bool TargetSpec::matches(const ElfInfo& elf) const {
  return elf.machine == elf_machine && elf.elf_class == elf_class && elf.byte_order == byte_order &&
         (elf.flags & flags_mask) == flags_value;
}

Expected<TargetTable> TargetTable::parse(std::string_view toml_text, std::string_view source_name) {
  auto parsed = parse_toml(toml_text, source_name);
  if (!parsed) return parsed.error();
  TargetTable table;
  for (const auto& [key, node] : (*parsed)) {
    const auto* entry = node.as_table();
    if (!entry) {
      return make_error(ExitCode::Usage, toml_location(source_name, node.source()) + ": target " + quoted(key.str()) +
                                             " must be a table");
    }
    const toml::table& t = *entry;
    TargetSpec spec;
    spec.name = std::string(key.str());
    spec.description = t["description"].value_or(std::string());
    spec.elf_machine = static_cast<std::uint16_t>(t["elf_machine"].value_or(0));
    spec.elf_class = t["elf_class"].value_or(64) == 32 ? ElfClass::Elf32 : ElfClass::Elf64;
    spec.byte_order = t["byte_order"].value_or(std::string("little")) == "big" ? ByteOrder::Big : ByteOrder::Little;
    spec.flags_mask = static_cast<std::uint32_t>(t["flags_mask"].value_or(std::int64_t{0}));
    spec.flags_value = static_cast<std::uint32_t>(t["flags_value"].value_or(std::int64_t{0}));
    spec.qemu = t["qemu"].value_or(std::string());
    spec.cpu = t["cpu"].value_or(std::string());
    spec.multiarch = t["multiarch"].value_or(std::string());
    spec.gnu_triple = t["gnu_triple"].value_or(std::string());
    spec.cpu_family = t["cpu_family"].value_or(std::string());
    spec.cmake_processor = t["cmake_processor"].value_or(std::string());
    spec.loader = t["loader"].value_or(std::string());
    spec.sysroots = string_array(t["sysroots"]);
    spec.triples = string_array(t["triples"]);
    spec.native_on = string_array(t["native_on"]);
    spec.packages.qemu = t["packages"]["qemu"].value_or(std::string());
    spec.packages.sysroot = t["packages"]["sysroot"].value_or(std::string());
    spec.packages.compiler = t["packages"]["compiler"].value_or(std::string());
    if (spec.elf_machine == 0 || spec.qemu.empty() || spec.loader.empty() || spec.multiarch.empty()) {
      return make_error(ExitCode::Usage, toml_location(source_name, node.source()) + ": target " + quoted(spec.name) +
                                             " needs elf_machine, qemu, loader and multiarch");
    }
    table.targets_.push_back(std::move(spec));
  }
  // toml++ tables are ordered by key; matching must follow the file's order
  // (armhf before armel), so sort by where each entry starts in the source.
  std::vector<std::pair<std::uint32_t, TargetSpec>> ordered;
  for (auto& spec : table.targets_)
    ordered.emplace_back((*parsed)[spec.name].node()->source().begin.line, std::move(spec));
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  table.targets_.clear();
  for (auto& [line, spec] : ordered) table.targets_.push_back(std::move(spec));
  return table;
}

std::vector<std::string> TargetTable::names() const {
  std::vector<std::string> out;
  for (const auto& spec : targets_) out.push_back(spec.name);
  return out;
}

const TargetSpec* TargetTable::find(std::string_view name_or_triple) const {
  for (const auto& spec : targets_) {
    if (spec.name == name_or_triple) return &spec;
  }
  for (const auto& spec : targets_) {
    for (const auto& triple : spec.triples)
      if (triple == name_or_triple) return &spec;
  }
  return nullptr;
}

const TargetSpec* TargetTable::match(const ElfInfo& elf) const {
  for (const auto& spec : targets_)
    if (spec.matches(elf)) return &spec;
  return nullptr;
}

std::string host_machine() {
  struct utsname names;
  if (::uname(&names) != 0) return "unknown";
  return names.machine;
}

}  // namespace xrun
