#include "engine/spawn.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

#include "binfmt/foreign_exec.h"
#include "engine/job_init.h"
#include "engine/job_namespace.h"

namespace xrun {

namespace {

// Everything a child needs, prepared before the fork: between fork (or
// vfork) and exec only system calls on these.
struct ChildPlan {
  const char* executable;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: xrun's own
  int stdin_fd, stdout_fd, stderr_fd, channel_fd;
  int error_fd;  // the close-on-exec pipe that reports a failed exec
  pid_t parent;
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

// The child's common start: its own process group, killed with xrun,
// default signal dispositions and an empty mask, exactly its stdio, the
// channel (if any) at 3, everything else close-on-exec. Returns the error
// pipe's fd (moved out of the channel's way), or -1 if xrun is gone.
int prepare_child(const ChildPlan& c) {
  ::setpgid(0, 0);                     // its own group: timeouts and Ctrl-C signal the whole tree
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // if xrun dies, so does the job
  if (::getppid() != c.parent) return -1;
  // A handler of xrun's must not run here (after vfork it would run on
  // xrun's memory), and the program starts with the defaults; SIGPIPE,
  // which xrun ignores, too.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    if (old.sa_handler != SIG_DFL && (old.sa_handler != SIG_IGN || sig == SIGPIPE)) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  const int in = c.stdin_fd >= 0 ? c.stdin_fd : ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in >= 0) ::dup2(in, STDIN_FILENO);
  ::dup2(c.stdout_fd, STDOUT_FILENO);
  ::dup2(c.stderr_fd, STDERR_FILENO);
  // Descriptors xrun itself inherited without close-on-exec (from a shell,
  // a CI agent) must not reach the program: mark everything above stderr
  // close-on-exec. Not a plain close: the error pipe must live until exec.
  ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  // The channel is the one exception (dup2 leaves the copy open on exec);
  // the error pipe is moved out of its way first, and out of the init's.
  const int error_fd = above_init_fds(c.error_fd);
  if (c.channel_fd >= 0) {
    if (c.channel_fd != 3)
      ::dup2(c.channel_fd, 3);
    else
      ::fcntl(3, F_SETFD, 0);
  }
  return error_fd;
}

[[noreturn]] void exec_failed(int error_fd, int err) {
  // Tell the parent why, through the close-on-exec pipe (Boost.Process's habit).
  (void)!::write(error_fd, &err, sizeof err);
  ::_exit(127);
}

[[noreturn]] void exec_program(const ChildPlan& c, int error_fd) {
  int err = 0;
  if (c.cwd && ::chdir(c.cwd) != 0) err = errno;
  if (err == 0) {
    ::execve(c.executable, c.argv, c.envp);
    err = errno;
  }
  exec_failed(error_fd, err);
}

// After vfork(): everything in memory of the parent's (`c`), nothing kept in
// this frame across the vfork.
[[noreturn]] void run_vforked_child(const ChildPlan& c) {
  const int error_fd = prepare_child(c);
  if (error_fd < 0) ::_exit(127);
  if (!c.init) exec_program(c, error_fd);
  // At the init's numbers, open across the exec: the init passes the error
  // pipe on to the program's exec.
  const int user_ns = above_init_fds(c.user_ns), mount_ns = above_init_fds(c.mount_ns);
  ::dup2(error_fd, kJobInitErrorFd);
  if (user_ns >= 0) ::dup2(user_ns, kJobInitUserNsFd), ::dup2(mount_ns, kJobInitMountNsFd);
  ::execve(c.init, c.init_argv, c.envp);
  exec_failed(error_fd, errno);
}

}  // namespace

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
  // An emulated program may run foreign programs itself (foreign_exec.h):
  // decided before the fork, entered by the child.
  const ForeignExec* foreign = plan.emulated ? &ForeignExec::for_this_process() : nullptr;
  const auto [user_ns, mount_ns] = foreign ? foreign->namespace_fds() : std::pair{-1, -1};
  ChildPlan child{
      plan.executable.c_str(), argv.data(),    envp.data(),    spec.cwd.empty() ? nullptr : spec.cwd.c_str(),
      spec.stdin_fd,           spec.stdout_fd, spec.stderr_fd, spec.channel_fd,
      exec_error[1],           ::getpid()};

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
    // (prepare_child): blocked across the vfork.
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
      const int error_fd = prepare_child(child);
      if (error_fd < 0) ::_exit(127);
      if (foreign) foreign->enter();  // if the kernel refuses, it runs as it would have without
      // From here on the program and all it starts live in a PID namespace
      // of the job's own, where the kernel allows one (job_namespace.h).
      if (spec.own_pid_namespace) enter_job_pid_namespace(error_fd);
      exec_program(child, error_fd);
    }
  }
  if (pid < 0) {
    const int err = errno;
    ::close(exec_error[0]);
    ::close(exec_error[1]);
    return make_error(ExitCode::InfraError, std::string("fork: ") + std::strerror(err));
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
    return make_error(ExitCode::InfraError,
                      (spec.cwd.empty() || child_errno != ENOENT ? plan.executable + ": cannot execute: "
                                                                 : "cannot enter " + spec.cwd + ": ") +
                          std::strerror(child_errno));
  }
  return pid;
}

}  // namespace xrun
