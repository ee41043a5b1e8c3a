// Starting one process of a launch plan the way every job starts: in a
// process group of its own, killed if xrun dies, with exactly the stdio it is
// given and no other descriptor of xrun's, inside the binfmt_misc namespace
// that lets an emulated program start foreign programs, and (where the
// kernel allows) in a PID namespace of its own (job_namespace.h).
#pragma once

#include <sys/types.h>

#include <string>

#include "core/child_process.h"
#include "core/expected.h"
#include "launch/launcher.h"

namespace xrun {

struct SpawnSpec {
  const LaunchPlan* plan = nullptr;
  std::string cwd;    // empty: xrun's own
  int stdin_fd = -1;  // -1: /dev/null
  int stdout_fd = -1, stderr_fd = -1;
  // Becomes descriptor 3 of the program (a fork server's socket), -1: none.
  int channel_fd = -1;
  // False for a fork server: the pids it reports must be xrun's own pids
  // (its children are signalled by them), not ones of a namespace.
  bool own_pid_namespace = true;
};

// Forks and execs (the prelude of core/child_process.h); returns the
// child, or why the exec failed (the child has then been reaped). The
// caller closes its copies of the fds.
Expected<ChildProcess> spawn_job_process(const SpawnSpec& spec);

}  // namespace xrun
