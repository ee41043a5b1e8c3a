// The debug trace (--verbose, XRUN_LOG=debug): what xrun decided and what it
// launches. It goes to stderr through spdlog, prefixed "xrun: [level]". Not
// for messages to the user -- those are diagnostics.h.
#pragma once

#include <spdlog/spdlog.h>

namespace xrun {

// Installs the stderr logger. `verbose` forces at least debug; otherwise
// XRUN_LOG decides (trace, debug, info, warn, error, off; default warn).
void init_logging(bool verbose);
// -v written before a subcommand: every later init_logging() is verbose.
void request_verbose_logging();

}  // namespace xrun
