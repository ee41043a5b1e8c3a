// Build-time tool: parses configs/targets.toml with the same parser xrun uses
// and writes a C++ file that defines TargetTable::builtin() from plain
// initialisers, so that a launch pays nothing for the table and a broken
// table fails the build, not a user's run.
//
//   xrun_target_codegen targets.toml builtin_target_table.cpp
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/fs_util.h"
#include "target/target_table.h"

namespace {

std::string literal(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string literals(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + literal(items[i]);
  return out + "}";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: xrun_target_codegen TARGETS_TOML OUTPUT_CPP\n");
    return 2;
  }
  auto text = xrun::read_file(argv[1]);
  if (!text) {
    std::fprintf(stderr, "xrun_target_codegen: cannot read %s\n", argv[1]);
    return 1;
  }
  auto table = xrun::TargetTable::parse(*text, argv[1]);
  if (!table) {
    std::fprintf(stderr, "%s\n", table.error().message.c_str());
    return 1;
  }
  std::ostringstream out;
  out << "// Generated from configs/targets.toml by xrun_target_codegen. Do not edit.\n"
      << "#include \"target/target_table.h\"\n\nnamespace xrun {\n\n"
      << "const TargetTable& TargetTable::builtin() {\n"
      << "  static const TargetTable table(std::vector<TargetSpec>{\n";
  for (const auto& t : table->targets()) {
    char flags[64];
    std::snprintf(flags, sizeof flags, "0x%xu, 0x%xu", t.flags_mask, t.flags_value);
    out << "      TargetSpec{" << literal(t.name) << ", " << literal(t.description) << ", " << t.elf_machine << ", "
        << (t.elf_class == xrun::ElfClass::Elf32 ? "ElfClass::Elf32" : "ElfClass::Elf64") << ", "
        << (t.byte_order == xrun::ByteOrder::Big ? "ByteOrder::Big" : "ByteOrder::Little") << ", " << flags << ",\n"
        << "                 " << literal(t.qemu) << ", " << literal(t.cpu) << ", " << literal(t.multiarch) << ", "
        << literal(t.gnu_triple) << ", " << literal(t.cpu_family) << ", " << literal(t.cmake_processor) << ", "
        << literal(t.loader) << ",\n"
        << "                 " << literals(t.sysroots) << ",\n"
        << "                 " << literals(t.triples) << ",\n"
        << "                 " << literals(t.native_on) << ",\n"
        << "                 {" << literal(t.packages.qemu) << ", " << literal(t.packages.sysroot) << ", "
        << literal(t.packages.compiler) << "}},\n";
  }
  out << "  });\n  return table;\n}\n\n}  // namespace xrun\n";
  const std::string temporary = std::string(argv[2]) + ".tmp";
  std::ofstream(temporary) << out.str();
  return std::rename(temporary.c_str(), argv[2]) == 0 ? 0 : 1;
}
