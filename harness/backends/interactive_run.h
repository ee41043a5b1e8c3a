// One program run the way a terminal or a build tool runs it, on any
// JobRunner: its stdout and stderr go to ours, apart; our stdin goes to it;
// SIGINT, SIGTERM and SIGHUP reach it as they would reach a child in the
// foreground. Used by `xrun PROGRAM` for backends that cannot simply exec
// the program in xrun's place (a VM, a board).
#pragma once

#include <boost/asio/io_context.hpp>

#include "engine/job_runner.h"

namespace xrun {

// Runs `request` to its end and returns how it ended. The signal handlers
// are installed before anything starts (a Ctrl-C in the first milliseconds
// waits for the program instead of killing xrun mid-setup). An Error means
// it could not be started at all.
Expected<JobExit> run_interactive(boost::asio::io_context& io, JobRunner& runner, JobRequest request);

// What a runner does for xrun's own process at the end of a single run:
// exits with the program's status, or dies of its signal (without a core
// file of xrun itself). Never returns.
[[noreturn]] void finish_like(const JobExit& exit);

}  // namespace xrun
