// The board backend: real machines over SSH, as Machines (machine/machine.h)
// of the one MachinePool. A Board brings its agent up in four steps, in a
// thread of its own (each may wait for the network for connect_timeout):
//   1. host key: a pin is checked against what the board presents;
//   2. the master connection (ssh -M, ControlPath in the run's directory),
//      which every later ssh goes through;
//   3. a probe in the board's shell: `uname -m`, where the agent is kept
//      (~/.cache/xrun-agent, or /tmp), whether this agent build is there;
//      if not, it is sent with `cat` (a board needs a POSIX shell, no scp);
//   4. `exec xrun-agent-<hash> --stdio --store DIR`: the agent's session
//      over that ssh's stdin and stdout.
// Killing the master (xrun ends, or dies: PR_SET_PDEATHSIG) closes the
// channel, and the agent kills every job it runs.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "config/config.h"
#include "core/warnings.h"
#include "machine/machine_pool.h"

namespace xrun {

// The pool of the board backend. `fork_server`: a job that may fork from a
// started copy (JobRequest::fork_server) does (--no-fork-server: none does).
// Its warnings (a board out of the run, a reset) go to `warnings`.
std::unique_ptr<MachinePool> make_board_runner(boost::asio::io_context& io, const Config& config, Warnings& warnings,
                                               bool fork_server = true);

}  // namespace xrun
