// Runs the built xrun binary the way a build tool would.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/paths.h"
#include "support/subprocess.h"

namespace xrun::testing {

inline RunResult run_xrun(std::vector<std::string> args, RunOptions options = {}) {
  args.insert(args.begin(), xrun_binary());
  return run(args, options);
}

// Starts xrun in the background (for tests that signal it), with `env` as
// its whole environment, stdout to `stdout_path` (default /dev/null) and
// stderr to `stderr_path` (default: the test's). Returns its pid, or -1.
inline pid_t start_xrun(std::vector<std::string> args, std::vector<std::string> env,
                        const std::string& stdout_path = "/dev/null", const std::string& cwd = "",
                        const std::string& stderr_path = "") {
  args.insert(args.begin(), xrun_binary());
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!stderr_path.empty())
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Ctrl-C for a start_xrun() process: SIGINT, then its wait status.
inline int interrupt_xrun(pid_t pid) {
  ::kill(pid, SIGINT);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace xrun::testing
