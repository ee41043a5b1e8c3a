#include "engine/spawn.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "binfmt/foreign_exec.h"
#include "engine/job_namespace.h"

namespace xrun {

Expected<pid_t> spawn_job_process(const SpawnSpec& spec) {
  const LaunchPlan& plan = *spec.plan;
  int exec_error[2];
  if (::pipe2(exec_error, O_CLOEXEC) != 0)
    return make_error(ExitCode::InfraError, std::string("pipe: ") + std::strerror(errno));
  std::vector<std::string> words = plan.argv, entries = plan.env;  // exec needs char*, not const
  std::vector<char*> argv, envp;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  for (auto& entry : entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const char* cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  const pid_t parent = ::getpid();
  // An emulated program may run foreign programs itself (foreign_exec.h):
  // decided before the fork, entered by the child.
  const ForeignExec* foreign = plan.emulated ? &ForeignExec::for_this_process() : nullptr;

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(exec_error[0]);
    ::close(exec_error[1]);
    return make_error(ExitCode::InfraError, std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here to exec.
    ::setpgid(0, 0);  // its own group: timeouts and Ctrl-C signal the whole tree
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // if xrun dies, so does the job
    if (::getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    const int in = spec.stdin_fd >= 0 ? spec.stdin_fd : ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in >= 0) ::dup2(in, STDIN_FILENO);
    ::dup2(spec.stdout_fd, STDOUT_FILENO);
    ::dup2(spec.stderr_fd, STDERR_FILENO);
    // Descriptors xrun itself inherited without close-on-exec (from a shell,
    // a CI agent) must not reach the program: mark everything above stderr
    // close-on-exec. Not a plain close: the error pipe must live until exec.
    ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
    // The channel is the one exception (dup2 leaves the copy open on exec);
    // the error pipe is moved out of its way first.
    int error_fd = exec_error[1];
    if (spec.channel_fd >= 0) {
      if (error_fd == 3) error_fd = ::fcntl(error_fd, F_DUPFD_CLOEXEC, 4);
      if (spec.channel_fd != 3) ::dup2(spec.channel_fd, 3);
      else ::fcntl(3, F_SETFD, 0);
    }
    if (foreign) foreign->enter();  // if the kernel refuses, it runs as it would have without
    // From here on the program and all it starts live in a PID namespace
    // of the job's own, where the kernel allows one (job_namespace.h).
    if (spec.own_pid_namespace) enter_job_pid_namespace(error_fd);
    int err = 0;
    if (cwd && ::chdir(cwd) != 0) err = errno;
    if (err == 0) {
      ::execve(plan.executable.c_str(), argv.data(), envp.data());
      err = errno;
    }
    // Tell the parent why, through the close-on-exec pipe (Boost.Process's habit).
    (void)!::write(error_fd, &err, sizeof err);
    _exit(127);
  }
  ::setpgid(pid, pid);  // also here, so a signal sent right away reaches the group
  ::close(exec_error[1]);
  int child_errno = 0;
  ssize_t n;
  while ((n = ::read(exec_error[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  ::close(exec_error[0]);
  if (n == sizeof child_errno) {
    ::waitpid(pid, nullptr, 0);
    return make_error(ExitCode::InfraError, (spec.cwd.empty() || child_errno != ENOENT
                                                 ? plan.executable + ": cannot execute: "
                                                 : "cannot enter " + spec.cwd + ": ") +
                                                std::strerror(child_errno));
  }
  return pid;
}

}  // namespace xrun
