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

struct JobRequest {
  std::string program;                 // the test binary
  std::vector<std::string> args;
  std::string cwd;                     // empty: xrun's own
  std::vector<std::string> extra_env;  // "NAME=value", on top of xrun's environment
  // The longest the job may live, when the caller knows it (timeout + grace).
  // Runners that cannot be signalled reliably (a VM) enforce it themselves.
  std::optional<double> deadline_seconds;
};

struct JobExit {
  bool signaled = false;
  int code = 0;    // exit status when !signaled
  int signal = 0;  // terminating signal when signaled
  // Set when the job's environment failed under it (its VM died or hung):
  // the exit fields mean nothing and the test is an infrastructure error.
  std::optional<std::string> infra_error;
};

using JobId = std::uint64_t;

struct JobStarted {
  JobId id = 0;
  std::string backend;  // "qemu-user", "native", "qemu-system"
  // The job may wait in the runner (for a VM to boot or to be free):
  // Callbacks::started says when it really begins, and its timeout and
  // duration count from then.
  bool starts_later = false;
};

class JobRunner {
 public:
  struct Callbacks {
    std::function<void(std::string_view bytes)> output;  // stdout and stderr, interleaved
    std::function<void(const JobExit&)> exited;          // once, after the last output
    std::function<void()> started;                       // with starts_later: once, when it begins
  };
  virtual ~JobRunner() = default;
  // An Error means the job could not be launched at all (missing qemu or
  // sysroot, not an executable...): an infrastructure error, not a test result.
  virtual Expected<JobStarted> start(const JobRequest& request, Callbacks callbacks) = 0;
  // Sends `signal` to the job's whole process group. No-op once it has exited.
  virtual void signal(JobId id, int signal) = 0;
  // Sends `signal` to every running job (a second Ctrl-C, or Ctrl-C while listing).
  virtual void signal_all(int signal) = 0;

};

}  // namespace xrun
