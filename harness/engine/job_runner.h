// Launching behind an interface (ninja's CommandRunner): the scheduler asks a
// JobRunner to start a program and hears back about its output and its end.
// The real one runs processes (qemu-user or native) on the scheduler's
// io_context; tests use a fake that plays scripted jobs on the same loop, so
// scheduling, timeouts, retries and cancellation are tested without qemu.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/expected.h"

namespace xrun {

struct Backend;  // backends/backend.h
struct BinaryInfo;
struct ElfInfo;
struct TargetSpec;

struct JobRequest {
  std::string program;  // the test binary
  std::vector<std::string> args;
  std::string cwd;                     // empty: xrun's own
  std::vector<std::string> extra_env;  // "NAME=value", on top of xrun's environment
  // The longest the job may live, when the caller knows it (timeout + grace).
  // Runners that cannot be signalled reliably (a VM) enforce it themselves.
  std::optional<double> deadline_seconds;
  std::optional<std::string> argv0;   // what the program sees as argv[0]; default: `program`
  std::optional<std::string> target;  // run as this target (--target) instead of probing
  // Where to run it when xrun's own command line does not say (the options
  // of the CTest command it came from); else the target's configuration.
  const Backend* backend = nullptr;
  bool forward_stdin = false;  // stdin comes from send_stdin(); otherwise /dev/null
  // TMPDIR names a fresh empty directory of the job's own, removed after it:
  // tests of one binary running at once do not meet in /tmp.
  bool private_tmpdir = false;
  // One of many runs of this program (process isolation): a runner may fork
  // it from a copy of the program started once (a fork server) instead of
  // starting it afresh, when the program is a dynamically linked one.
  bool fork_server = false;
  // With fork_server: the arguments the started copy gets. They must do no
  // harm should the fork-server library not load (the copy then runs its
  // own main once): a listing.
  std::vector<std::string> fork_server_args;
  // Host directories the program needs besides its own and the cwd (the
  // binaries a Cargo test runs): a backend that does not share the host's
  // files makes them visible at the same paths.
  std::vector<std::string> host_dirs;
  // Already read from the program and resolved by whoever routed the job
  // (the routing runner: one probe and one target per program and run):
  // runners use them instead of reading the file or matching its target
  // again. Valid during start() only.
  const BinaryInfo* binary = nullptr;       // what the file is (probe/binary_probe.h)
  const ElfInfo* elf = nullptr;             // binary's ELF headers, when it is an ELF program
  const TargetSpec* target_spec = nullptr;  // the target it runs as, when xrun knows it
};

struct JobExit {
  bool signaled = false;
  int code = 0;    // exit status when !signaled
  int signal = 0;  // terminating signal when signaled
  // Set when the job's environment failed under it (its VM died or hung):
  // the exit fields mean nothing and the test is an infrastructure error.
  std::optional<std::string> infra_error;
  // With infra_error: the machine it ran on went away under it (a board
  // whose network dropped), which says nothing of the test: the scheduler
  // runs it again, elsewhere, once.
  bool machine_lost = false;
};

using JobId = std::uint64_t;

struct JobStarted {
  JobId id = 0;
  std::string backend;  // the name of the backend's row (set by backends/routing_runner.h)
  std::string target;   // the target it runs as ("aarch64"); empty when native
  // The job may wait in the runner (for a VM to boot or to be free):
  // Callbacks::started says when it really begins, and its timeout and
  // duration count from then.
  bool starts_later = false;
};

class JobRunner {
 public:
  struct Callbacks {
    std::function<void(std::string_view bytes)> output;  // stdout, and stderr interleaved unless error_output is set
    std::function<void(const JobExit&)> exited;          // once, after the last output
    std::function<void()> started;                       // with starts_later: once, when it begins
    std::function<void(std::string_view bytes)> error_output;  // set: stderr apart from stdout
  };
  virtual ~JobRunner() = default;
  // An Error means the job could not be launched at all (missing qemu or
  // sysroot, not an executable...): an infrastructure error, not a test result.
  // A job that ends at once (its machines are all gone) ends after start()
  // has returned, never from inside it: the caller learns the job's id
  // before it hears of its end.
  virtual Expected<JobStarted> start(const JobRequest& request, Callbacks callbacks) = 0;
  // Whether jobs of this program can start at all, asked once per program
  // before any of its tests is listed or run (discovery): an Error here (a
  // file of a format no backend runs) ends the run up front instead of
  // failing each of its tests. The program's file may be read for it.
  virtual Expected<void> admits(const JobRequest&) { return {}; }
  // Sends `signal` to the job's whole process group. No-op once it has exited.
  virtual void signal(JobId id, int signal) = 0;
  // Sends `signal` to every running job (a second Ctrl-C, or Ctrl-C while listing).
  virtual void signal_all(int signal) = 0;
  // Input for a job started with forward_stdin; empty: the end of it. Bytes
  // for a job that no longer reads them are dropped.
  virtual void send_stdin(JobId id, std::string_view bytes) = 0;
  // Which one of the backend's machines runs the job, when they are not
  // interchangeable (a board's name); "" otherwise. Valid once it started.
  virtual std::string machine_of(JobId) const { return ""; }
  // Stops everything the runner runs (its machines, its processes); jobs
  // still running end. The end of a run, and the last line of defence: the
  // routing runner calls it for every backend's runner.
  virtual void shutdown() = 0;
};

}  // namespace xrun
