// Runs the built xrun binary the way a build tool would.
#pragma once

#include "support/paths.h"
#include "support/subprocess.h"

namespace xrun::testing {

inline RunResult run_xrun(std::vector<std::string> args, RunOptions options = {}) {
  args.insert(args.begin(), xrun_binary());
  return run(args, options);
}

}  // namespace xrun::testing
