// Parsing a subcommand's options with CLI11, the same way for every
// subcommand: --help prints to stdout and succeeds; anything wrong is one
// "xrun: error: <subcommand>: ..." line and the usage exit status.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/diagnostics.h"
#include "core/exit_code.h"

namespace xrun {

// Returns the exit status to stop with, or nullopt to go on.
inline std::optional<int> parse_subcommand(CLI::App& app, const std::string& name,
                                           const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them reversed
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    print_error(name + ": " + e.what());
    return to_int(ExitCode::Usage);
  }
  return std::nullopt;
}

}  // namespace xrun
