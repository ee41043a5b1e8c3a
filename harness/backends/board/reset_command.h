// A board's `reset` command (a smart plug, a relay, a BMC: docs/boards.md),
// run on the loop: its output read asynchronously, its end noticed through
// a pidfd, its time limit a timer on a TimeSource (core/time_source.h). It
// takes as long as a board's boot; nothing waits for it in place, and no
// thread is started for it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "core/time_source.h"

namespace xrun {

struct ResetResult {
  bool started = false;
  bool timed_out = false;
  int status = -1;   // exit status, or 128+signal
  std::string said;  // its stdout, then its stderr (the last 64 KiB of each)
};

class ResetCommand {
 public:
  virtual ~ResetCommand() = default;
  // Kills it (its process group) and reaps it; `done` is not called.
  virtual void cancel() = 0;
};

// Runs `sh -c command` in a process group of its own, dying with xrun, its
// stderr in `stderr_log`; after `limit` on `time` it is killed (timed_out).
// `done` runs on `io`, never inside this call.
std::shared_ptr<ResetCommand> run_reset_command(boost::asio::io_context& io, TimeSource& time,
                                                const std::string& command, const std::string& stderr_log,
                                                TimeSource::Clock::duration limit,
                                                std::function<void(ResetResult)> done);

}  // namespace xrun
