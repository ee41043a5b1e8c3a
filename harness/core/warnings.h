// Warnings: what library code tells the user that is not an error (a board
// out of the run, a saved state that did not work). The library hands them
// to the sink it was given and never prints them itself: in `xrun test` the
// sink is the run's reporters (the terminal prints "xrun: warning: ...", the
// JSON report keeps them); elsewhere stderr_warnings() prints them at once.
#pragma once

#include <string>

namespace xrun {

class Warnings {
 public:
  virtual ~Warnings() = default;
  // Called on the thread that drives the run (the io_context's).
  virtual void warn(const std::string& message) = 0;
};

// "xrun: warning: MESSAGE" on stderr, at once (print_warning): the single
// run and the commands that have no reporters.
Warnings& stderr_warnings();

}  // namespace xrun
