#include "engine/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

#include "binfmt/foreign_exec.h"
#include "core/fd.h"
#include "engine/job_init.h"
#include "engine/job_namespace.h"

namespace xrun {

namespace {

// Everything a child needs, prepared before the fork: between fork (or
// vfork) and exec only system calls on these.
struct ChildPlan {
  ChildPrelude prelude;  // core/child_process.h: the start every child shares
  const char* executable;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: xrun's own
  // The job init to exec first (job_init.h), or nullptr: the program itself.
  const char* init = nullptr;
  char* const* init_argv = nullptr;
  int user_ns = -1, mount_ns = -1;  // the private namespaces the init enters, or -1
};

// `fd`, or a close-on-exec copy of it above the descriptors the job init
// inherits at fixed numbers (job_init.h), so that placing those cannot
// overwrite it.
int above_init_fds(int fd) {
  return fd >= 0 && fd <= kJobInitMountNsFd ? ::fcntl(fd, F_DUPFD_CLOEXEC, kJobInitMountNsFd + 1) : fd;
}

[[noreturn]] void exec_program(const ChildPlan& c, int error_fd) {
  int err = 0;
  if (c.cwd && ::chdir(c.cwd) != 0) err = errno;
  if (err == 0) {
    ::execve(c.executable, c.argv, c.envp);
    err = errno;
  }
  report_exec_failure(error_fd, err);
}

// After vfork(): everything in memory of the parent's (`c`), nothing kept in
// this frame across the vfork.
[[noreturn]] void run_vforked_child(const ChildPlan& c) {
  const int error_fd = run_child_prelude(c.prelude);
  if (error_fd < 0) ::_exit(127);
  if (!c.init) exec_program(c, error_fd);
  // At the init's numbers, open across the exec: the init passes the error
  // pipe on to the program's exec.
  const int user_ns = above_init_fds(c.user_ns), mount_ns = above_init_fds(c.mount_ns);
  ::dup2(error_fd, kJobInitErrorFd);
  if (user_ns >= 0) ::dup2(user_ns, kJobInitUserNsFd), ::dup2(mount_ns, kJobInitMountNsFd);
  ::execve(c.init, c.init_argv, c.envp);
  report_exec_failure(error_fd, errno);
}

}  // namespace

Expected<ChildProcess> spawn_job_process(const SpawnSpec& spec) {
  const LaunchPlan& plan = *spec.plan;
  auto exec_error = make_pipe();
  if (!exec_error) return exec_error.error();
  std::vector<std::string> words = plan.argv, entries = plan.env;  // exec needs char*, not const
  std::vector<char*> argv, envp;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  for (auto& entry : entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  // An emulated program may run foreign programs itself (foreign_exec.h):
  // decided before the fork, entered by the child.
  const ForeignExec* foreign = plan.emulated ? &ForeignExec::for_this_process() : nullptr;
  const auto [user_ns, mount_ns] = foreign ? foreign->namespace_fds() : std::pair{-1, -1};
  ChildPlan child{};
  child.prelude.parent = ::getpid();
  child.prelude.stdin_fd = spec.stdin_fd;
  child.prelude.stdout_fd = spec.stdout_fd;
  child.prelude.stderr_fd = spec.stderr_fd;
  child.prelude.channel_fd = spec.channel_fd;
  child.prelude.error_fd = exec_error->write.get();
  child.prelude.error_fd_above = kJobInitMountNsFd;  // out of the channel's way, and the init's
  child.executable = plan.executable.c_str();
  child.argv = argv.data();
  child.envp = envp.data();
  child.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();

  // What the program must start inside decides how it starts (job_init.h):
  // nothing, or the job init to do it, after vfork(); fork() only where
  // there is no init to exec.
  const bool inside_namespaces = spec.own_pid_namespace || user_ns >= 0;
  const char* const init = inside_namespaces ? job_init_executable() : nullptr;
  std::string init_flags = std::string(spec.own_pid_namespace ? "n" : "") + (user_ns >= 0 ? "f" : "");
  std::string init_cwd = spec.cwd;
  std::vector<char*> init_argv;
  if (init) {
    init_argv = {const_cast<char*>(kJobInitName), init_flags.data(), init_cwd.data(),
                 const_cast<char*>(child.executable)};
    init_argv.insert(init_argv.end(), argv.begin(), argv.end());  // with its nullptr
    child.init = init;
    child.init_argv = init_argv.data();
    child.user_ns = user_ns;
    child.mount_ns = mount_ns;
  }

  pid_t pid;
  if (!inside_namespaces || init) {
    // No handler of xrun's may run in the child before it has reset them
    // (run_child_prelude): blocked across the vfork.
    sigset_t all, old;
    sigfillset(&all);
    ::sigprocmask(SIG_SETMASK, &all, &old);
    pid = ::vfork();
    if (pid == 0) run_vforked_child(child);
    const int fork_errno = errno;
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    errno = fork_errno;
  } else {
    pid = ::fork();
    if (pid == 0) {
      // Child: only async-signal-safe calls from here to exec.
      const int error_fd = run_child_prelude(child.prelude);
      if (error_fd < 0) ::_exit(127);
      if (foreign) foreign->enter();  // if the kernel refuses, it runs as it would have without
      // From here on the program and all it starts live in a PID namespace
      // of the job's own, where the kernel allows one (job_namespace.h).
      if (spec.own_pid_namespace) enter_job_pid_namespace(error_fd);
      exec_program(child, error_fd);
    }
  }
  if (pid < 0) return make_error(ExitCode::InfraError, std::string("fork: ") + std::strerror(errno));
  ::setpgid(pid, pid);  // also here, so a signal sent right away reaches the group
  exec_error->write.reset();
  if (const int child_errno = read_exec_error(exec_error->read); child_errno != 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return make_error(ExitCode::InfraError,
                      (spec.cwd.empty() || child_errno != ENOENT ? plan.executable + ": cannot execute: "
                                                                 : "cannot enter " + spec.cwd + ": ") +
                          std::strerror(child_errno));
  }
  return ChildProcess::adopt(pid, true);
}

}  // namespace xrun
