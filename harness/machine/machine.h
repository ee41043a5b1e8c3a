// A machine is somewhere xrun's agent runs programs for the host: a qemu VM
// started by xrun (system/vm), a board over SSH (board/board). Every kind
// has the same life -- start until the agent answers, serve jobs through its
// AgentSession, die (asked to, or on its own), written once in
// agent_machine.h -- and plugs into the one MachinePool (machine_pool.h)
// through a MachineFleet, which knows how to make its machines, what a job
// needs there (its files through a strategy, machine_files.h), and what to
// do when one fails.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/expected.h"
#include "engine/job_runner.h"
#include "machine/agent_protocol.h"
#include "machine/agent_session.h"

namespace xrun {

struct ElfInfo;

// Where a program's libraries come from in its build tree: its RUNPATH
// (RPATH) with $ORIGIN expanded, and the LD_LIBRARY_PATH of the job's
// environment; absolute, existing directories only. A machine that does not
// share the host's files shows (the host view) or mirrors (the mirror) them
// (machine_files.h).
std::vector<std::string> build_tree_library_dirs(const ElfInfo& elf, const std::string& program,
                                                 const std::vector<std::string>& env);

// A machine's failure (to start, to stage a job's files): an infra error
// with its message.
inline Error machine_error(std::string message) { return Error{ExitCode::InfraError, std::move(message)}; }

class Machine {
 public:
  using ReadyHandler = std::function<void(Expected<void> started)>;
  virtual ~Machine() = default;

  // Brings it up; `ready` runs once, when the agent answered or with why not.
  virtual void start(ReadyHandler ready) = 0;
  // The agent's session: set while the machine is ready and alive.
  virtual AgentSession* session() = 0;
  // Ends it now: jobs still running end as infra errors naming `reason`.
  virtual void kill(const std::string& reason) = 0;
  virtual bool alive() const = 0;
  virtual bool ready() const = 0;
  // For messages and reports: "VM 1 (aarch64-minimal)", "board pi4".
  virtual std::string name() const = 0;
  // What a report names as where a test ran ("pi4"); "" for interchangeable machines.
  virtual std::string report_name() const { return ""; }

  // Runs once when it dies after it was ready (never after kill()).
  std::function<void(const std::string& reason)> on_death;
};

// What a fleet's file strategy (machine_files.h) keeps for a job from
// planning it to its end (the mirror: the files to send).
struct StagedFiles {
  virtual ~StagedFiles() = default;
};

// One job as the pool carries it: what the agent is asked to run, and what
// the fleet prepared for it.
struct MachineJob {
  JobId id = 0;
  RunFrame frame;
  std::string host_path, host_cwd;      // the program and cwd as the host names them (frame's may be the machine's)
  std::shared_ptr<StagedFiles> staged;  // the file strategy's, if it keeps anything
  JobRunner::Callbacks callbacks;
  std::shared_ptr<Machine> machine;  // where it runs, once dispatched
  std::string pending_stdin;
  bool stdin_closed = false;
  bool dispatched = false;  // the agent has been asked to run it
  std::chrono::steady_clock::time_point dispatched_at;
  bool started = false;      // the agent started it
  int machine_failures = 0;  // machines that died under it: re-queued, not a test retry
};

class MachineFleet {
 public:
  virtual ~MachineFleet() = default;
  // At most this many machines at once, in slots 0..n-1.
  virtual std::size_t slots() const = 0;
  // How many jobs a machine of `slot` runs at once.
  virtual std::size_t jobs_per_machine(std::size_t slot) const = 0;
  virtual std::shared_ptr<Machine> make(boost::asio::io_context& io, std::size_t slot) = 0;
  // What the fleet makes once, before its first machine starts (system
  // mode: the trimmed device tree, the saved state), without holding up the
  // loop: `done` runs on `io` when it is ready, never after shutdown(). No
  // machine is made before. Jobs are planned and queued meanwhile.
  virtual void prepare(boost::asio::io_context& io, std::function<void()> done) {
    (void)io;
    done();
  }
  // Completes job.frame for this kind of machine (and has its file
  // strategy plan the job's files).
  virtual Expected<void> plan(const JobRequest& request, const ElfInfo& elf, MachineJob& job) = 0;
  // Just before the job runs on `machine` (a board gets its files: its file
  // strategy's stage()); `done` with an error makes the job an infra error.
  // The frame may be changed (a board's mirror prefix).
  virtual void stage(Machine& machine, const std::shared_ptr<MachineJob>& job,
                     std::function<void(Expected<void> staged)> done) {
    (void)machine, (void)job;
    done({});
  }
  // After the job ended on `machine` (not for infra errors): a board may
  // bring back what it wrote. `done` then hands the exit on.
  virtual void after(Machine& machine, const std::shared_ptr<MachineJob>& job, std::function<void()> done) {
    (void)machine, (void)job;
    done();
  }
  // The machine of `slot` failed to start (was_ready false) or died
  // (true) with `error`. `again(true)` starts a new one in the slot (now or
  // later: a board may first be reset); `again(false)` leaves it empty for
  // the rest of the run.
  virtual void recover(std::size_t slot, bool was_ready, const std::string& error, std::function<void(bool)> again) = 0;
  // Whether the jobs of a machine that died go to another (a board's
  // network dropped: the test is not to blame) or end as infra errors (a VM
  // whose test may have brought it down).
  virtual bool requeue_jobs_of_dead_machines() const = 0;
  // The run is over: anything the fleet made (work directories) goes.
  virtual void shutdown() {}
};

}  // namespace xrun
