// toml++ as Debian builds it throws toml::parse_error on bad input; this
// turns that into an Expected so callers stay exception-free.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "core/expected.h"

namespace xrun {

// "file:line:column" for a node, or just "file" when toml++ has no position.
inline std::string toml_location(std::string_view file, const toml::source_region& region) {
  if (region.begin.line == 0) return std::string(file);
  return std::string(file) + ":" + std::to_string(region.begin.line) + ":" + std::to_string(region.begin.column);
}

inline Expected<toml::table> parse_toml(std::string_view text, std::string_view source_name) {
  try {
    return toml::parse(text, source_name);
  } catch (const toml::parse_error& err) {
    return make_error(ExitCode::Usage,
                      toml_location(source_name, err.source()) + ": " + std::string(err.description()));
  }
}

}  // namespace xrun
