// xrun's own options on a run line, `xrun [OPTIONS] [--] PROGRAM [ARGS...]`:
// one grammar for everything that reads such a line -- the runner itself,
// the options written before a subcommand (`xrun -v test ...`), and the
// commands CTest runs through CMAKE_CROSSCOMPILING_EMULATOR
// (`xrun;--backend;system;/b/suite`), which `xrun test --ctest` takes apart.
//
// Parsing is by hand, not by CLI11: only the options before PROGRAM belong
// to xrun; everything from PROGRAM on reaches the program byte for byte,
// including words that look like options.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/expected.h"

namespace xrun {

struct Backend;  // backends/backend.h

struct RunOptions {
  bool verbose = false;                    // -v, --verbose
  std::optional<std::string> target;       // --target T
  std::optional<std::string> config_file;  // --config FILE
  const Backend* backend = nullptr;        // --backend B
  std::vector<std::string> backend_flags;  // the backends' own switches given (--cold-boot: BackendFlag)
};

struct RunLine {
  RunOptions options;
  std::vector<std::string> option_words;  // the options as written, to hand on to a subcommand
  std::size_t program = 0;                // index of PROGRAM in the words; == size when there is none
  bool after_dashes = false;              // "--" came first: PROGRAM is never a subcommand
};

// Errors (exit code Usage) name the option: an unknown one with a
// suggestion, a missing value, a backend that does not exist.
Expected<RunLine> parse_run_line(const std::vector<std::string>& words);

}  // namespace xrun
