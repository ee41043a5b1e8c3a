#include "setup/setup.h"

#include <cctype>
#include <sstream>

#include "config/toml_util.h"
#include "core/diagnostics.h"
#include "core/suggest.h"

namespace xrun {

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines, bool trailing_newline) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i)
    out += lines[i] + (i + 1 < lines.size() || trailing_newline ? "\n" : "");
  return out;
}

std::string toml_string(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Expected<SetupTarget> resolve_setup_target(const TargetTable& table, const std::string& name) {
  const TargetSpec* spec = table.find(name);
  if (spec == nullptr) {
    std::vector<std::string> known = table.names();
    for (const auto& t : table.targets()) known.insert(known.end(), t.triples.begin(), t.triples.end());
    return make_error(ExitCode::Usage, "unknown target " + quoted(name) + did_you_mean(name, known));
  }
  SetupTarget target;
  target.spec = spec;
  target.gnu_triple = spec->gnu_triple;
  // A Rust triple as given; otherwise the target's first "-unknown-linux-" triple.
  const bool rust_given = name.find("-unknown-") != std::string::npos;
  if (rust_given) {
    target.rust_triple = name;
  } else {
    for (const auto& triple : spec->triples) {
      if (triple.find("-unknown-linux-gnu") != std::string::npos) {
        target.rust_triple = triple;
        break;
      }
    }
  }
  return target;
}

std::string cargo_runner_variable(const std::string& rust_triple) {
  std::string out = "CARGO_TARGET_";
  for (char c : rust_triple)
    out += c == '-' || c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out + "_RUNNER";
}

std::string cargo_snippet(const SetupTarget& target, const std::string& runner, const std::string& linker) {
  std::string out = "[target." + target.rust_triple + "]\nrunner = " + toml_string(runner) + "\n";
  if (!linker.empty()) out += "linker = " + toml_string(linker) + "\n";
  return out;
}

Expected<std::string> edit_cargo_config(const std::string& text, const std::string& source_name,
                                        const SetupTarget& target, const std::string& runner, const std::string& linker,
                                        std::vector<std::string>& changes) {
  auto parsed = parse_toml(text, source_name);
  if (!parsed) return parsed.error();
  std::vector<std::string> lines = split_lines(text);
  const bool trailing_newline = text.empty() || text.back() == '\n';
  const toml::table* table = (*parsed)["target"][target.rust_triple].as_table();
  if (table == nullptr) {
    // A new section at the end; everything above stays byte for byte.
    std::string out = text;
    if (!out.empty() && out.back() != '\n') out += '\n';
    if (!out.empty()) out += '\n';
    out += cargo_snippet(target, runner, linker);
    changes.push_back("added [target." + target.rust_triple + "] with runner" + (linker.empty() ? "" : " and linker"));
    return out;
  }
  if (table->is_inline()) {
    return make_error(ExitCode::Usage, toml_location(source_name, table->source()) + ": [target." + target.rust_triple +
                                           "] is an inline table, which xrun will not rewrite; set runner = " +
                                           toml_string(runner) + " in it yourself");
  }
  const auto header_line = table->source().begin.line;  // 1-based; the [target.x] line
  // Lines to insert after the header, applied bottom-up so numbers stay valid.
  std::vector<std::string> inserts;
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"runner", runner}, {"linker", linker}}) {
    if (value.empty()) continue;
    const toml::node* node = table->get(key);
    if (node == nullptr) {
      inserts.push_back(key + " = " + toml_string(value));
      changes.push_back("added " + key + " = " + toml_string(value) + " to [target." + target.rust_triple + "]");
      continue;
    }
    if (node->value<std::string>() == value) {
      changes.push_back(key + " is already " + toml_string(value));
      continue;
    }
    if (key == "linker") {
      changes.push_back("kept linker " + node->value_or(std::string("(not a string)")) + " (already set)");
      continue;
    }
    const auto line = node->source().begin.line;
    if (line == 0 || line > lines.size()) return make_error(ExitCode::Usage, source_name + ": cannot locate runner");
    const std::string old = lines[line - 1];
    lines[line - 1] = key + " = " + toml_string(value) + "  # xrun setup; was: " + old;
    changes.push_back("replaced " + key + " in [target." + target.rust_triple + "] (was: " + old + ")");
  }
  if (header_line == 0 || header_line > lines.size())
    return make_error(ExitCode::Usage, source_name + ": cannot locate [target." + target.rust_triple + "]");
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(header_line), inserts.begin(), inserts.end());
  return join_lines(lines, trailing_newline);
}

std::string cmake_toolchain(const SetupTarget& target, const std::string& xrun) {
  const std::string& gnu = target.gnu_triple;
  return "# CMake toolchain file for " + target.spec->name +
         " (written by `xrun setup cmake`): cross-compile\n"
         "# with " +
         gnu +
         "-gcc and run what the build runs (try_run, gtest_discover_tests,\n"
         "# ctest) through xrun.\n"
         "#   cmake -S . -B build-" +
         target.spec->name +
         " -DCMAKE_TOOLCHAIN_FILE=<this file>\n"
         "set(CMAKE_SYSTEM_NAME Linux)\n"
         "set(CMAKE_SYSTEM_PROCESSOR " +
         target.spec->cmake_processor +
         ")\n\n"
         "set(CMAKE_C_COMPILER " +
         gnu +
         "-gcc)\n"
         "set(CMAKE_CXX_COMPILER " +
         gnu +
         "-g++)\n\n"
         "set(CMAKE_FIND_ROOT_PATH /usr/" +
         gnu +
         ")\n"
         "set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)\n"
         "set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)\n"
         "set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)\n"
         "set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)\n\n"
         "if(NOT CMAKE_CROSSCOMPILING_EMULATOR)\n"
         "  set(CMAKE_CROSSCOMPILING_EMULATOR \"" +
         xrun + ";--target;" + target.spec->name +
         "\")\n"
         "endif()\n";
}

std::string meson_cross_file(const SetupTarget& target, const std::string& xrun) {
  const std::string& gnu = target.gnu_triple;
  return "# Meson cross file for " + target.spec->name +
         " (written by `xrun setup meson`):\n"
         "#   meson setup --cross-file <this file> build-" +
         target.spec->name + " && meson test -C build-" + target.spec->name +
         "\n"
         "[binaries]\n"
         "c = '" +
         gnu +
         "-gcc'\n"
         "cpp = '" +
         gnu +
         "-g++'\n"
         "ar = '" +
         gnu +
         "-ar'\n"
         "strip = '" +
         gnu +
         "-strip'\n"
         "exe_wrapper = ['" +
         xrun + "', '--target', '" + target.spec->name +
         "']\n\n"
         "[host_machine]\n"
         "system = 'linux'\n"
         "cpu_family = '" +
         target.spec->cpu_family +
         "'\n"
         "cpu = '" +
         target.spec->cmake_processor +
         "'\n"
         "endian = '" +
         std::string(target.spec->byte_order == ByteOrder::Big ? "big" : "little") + "'\n";
}

}  // namespace xrun
