// toml++ without exceptions: toml::parse returns a toml::parse_result and
// never throws; parse_toml() turns it into an Expected. This is the one
// include of toml++ in the tree, so every user has the same setting.
#pragma once

#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <string>
#include <string_view>
#include <utility>

#include "core/expected.h"

namespace xrun {

// "file:line:column" for a node, or just "file" when toml++ has no position.
inline std::string toml_location(std::string_view file, const toml::source_region& region) {
  if (region.begin.line == 0) return std::string(file);
  return std::string(file) + ":" + std::to_string(region.begin.line) + ":" + std::to_string(region.begin.column);
}

inline Expected<toml::table> parse_toml(std::string_view text, std::string_view source_name) {
  static_assert(!TOML_EXCEPTIONS, "toml::parse must return a parse_result");
  toml::parse_result parsed = toml::parse(text, source_name);
  if (!parsed) {
    const toml::parse_error& err = parsed.error();
    return make_error(ExitCode::Usage,
                      toml_location(source_name, err.source()) + ": " + std::string(err.description()));
  }
  return std::move(parsed).table();
}

}  // namespace xrun
