#include "engine/process_runner.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "launch/launcher.h"
#include "target/target_table.h"

namespace xrun {

namespace asio = boost::asio;

struct ProcessRunner::Child {
  Child(asio::io_context& io, int output_fd, int pid_fd) : output(io, output_fd), exit_watch(io, pid_fd), drain(io) {}
  JobId id = 0;
  pid_t pid = -1;
  asio::posix::stream_descriptor output;
  asio::posix::stream_descriptor exit_watch;
  asio::steady_timer drain;  // bounds the wait for EOF after exit (a grandchild may hold the pipe)
  std::array<char, 65536> buffer;
  Callbacks callbacks;
  bool output_closed = false;
  bool exited = false;
  bool reported = false;
  JobExit exit;
};

ProcessRunner::ProcessRunner(asio::io_context& io, const Config& config, OverlayStore overlays)
    : io_(io), config_(config), overlays_(std::move(overlays)), base_env_(current_environment()) {}

ProcessRunner::~ProcessRunner() { kill_all(); }

namespace {

void set_env(std::vector<std::string>& env, const std::string& entry) {
  const std::string name = entry.substr(0, entry.find('=') + 1);
  for (auto& e : env) {
    if (e.compare(0, name.size(), name) == 0) {
      e = entry;
      return;
    }
  }
  env.push_back(entry);
}

}  // namespace

Expected<JobStarted> ProcessRunner::start(const JobRequest& request, Callbacks callbacks) {
  std::vector<std::string> env = base_env_;
  for (const auto& entry : request.extra_env) set_env(env, entry);
  RunRequest run;
  run.program = request.program;
  run.args = request.args;
  auto plan = plan_launch(run, config_, TargetTable::builtin(), overlays_, env);
  if (!plan) return plan.error();
  spdlog::debug("start{}: {}", request.cwd.empty() ? "" : " in " + request.cwd, plan->command_line());

  int output_pipe[2], error_pipe[2];
  if (::pipe2(output_pipe, O_CLOEXEC) != 0) return make_error(ExitCode::InfraError, std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
    ::close(output_pipe[0]);
    ::close(output_pipe[1]);
    return make_error(ExitCode::InfraError, std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> argv, envp;
  for (auto& word : plan->argv) argv.push_back(word.data());
  argv.push_back(nullptr);
  for (auto& entry : plan->env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const char* cwd = request.cwd.empty() ? nullptr : request.cwd.c_str();
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) return make_error(ExitCode::InfraError, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls from here to exec.
    ::setpgid(0, 0);  // its own group: timeouts and Ctrl-C signal the whole tree
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // if xrun dies, so does the job
    if (::getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    // Close-on-exec: after dup2 only fds 0-2 reach the program.
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(output_pipe[1], STDOUT_FILENO);
    ::dup2(output_pipe[1], STDERR_FILENO);
    // Descriptors xrun itself inherited without close-on-exec (from a shell,
    // a CI agent) must not reach the test: mark everything above stderr
    // close-on-exec. Not a plain close: the error pipe must live until exec.
    ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
    int err = 0;
    if (cwd && ::chdir(cwd) != 0) err = errno;
    if (err == 0) {
      ::execve(plan->executable.c_str(), argv.data(), envp.data());
      err = errno;
    }
    // Tell the parent why, through the close-on-exec pipe (Boost.Process's habit).
    (void)!::write(error_pipe[1], &err, sizeof err);
    _exit(127);
  }
  ::setpgid(pid, pid);  // also here, so a signal sent right away reaches the group
  ::close(output_pipe[1]);
  ::close(error_pipe[1]);
  int child_errno = 0;
  ssize_t n;
  while ((n = ::read(error_pipe[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  ::close(error_pipe[0]);
  if (n == sizeof child_errno) {
    ::close(output_pipe[0]);
    ::waitpid(pid, nullptr, 0);
    return make_error(ExitCode::InfraError, (request.cwd.empty() || child_errno != ENOENT
                                                 ? plan->executable + ": cannot execute: "
                                                 : "cannot enter " + request.cwd + ": ") +
                                                std::strerror(child_errno));
  }
  // pidfd_open(2): raw syscall, glibc 2.36's <sys/pidfd.h> is not usable from C++.
  const int pid_fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pid_fd < 0) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(output_pipe[0]);
    return make_error(ExitCode::InfraError, std::string("pidfd_open: ") + std::strerror(errno));
  }
  auto child = std::make_shared<Child>(io_, output_pipe[0], pid_fd);
  child->id = next_id_++;
  child->pid = pid;
  child->callbacks = std::move(callbacks);
  children_[child->id] = child;

  watch_exit(child);
  read_more(child);
  return JobStarted{child->id, plan->emulated ? "qemu-user" : "native"};
}

void ProcessRunner::watch_exit(const std::shared_ptr<Child>& child) {
  child->exit_watch.async_wait(asio::posix::stream_descriptor::wait_read, [this, child](const auto& error) {
    if (error == asio::error::operation_aborted || child->exited) return;
    // WNOHANG: a readiness event may be stale (a closed pidfd's number reused
    // by a new child within one epoll batch); a blocking wait would stall
    // the whole loop.
    int status = 0;
    pid_t reaped;
    while ((reaped = ::waitpid(child->pid, &status, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (reaped == 0) {
      watch_exit(child);
      return;
    }
    child->exited = true;
    if (WIFSIGNALED(status)) child->exit = JobExit{true, 0, WTERMSIG(status)};
    else child->exit = JobExit{false, WEXITSTATUS(status), 0};
    if (!child->output_closed) {
      child->drain.expires_after(std::chrono::seconds(2));
      child->drain.async_wait([this, child](const auto& e) {
        if (e || child->output_closed) return;
        ::kill(-child->pid, SIGKILL);
        boost::system::error_code ignored;
        child->output.close(ignored);
        child->output_closed = true;
        maybe_finish(child);
      });
    }
    maybe_finish(child);
  });
}

void ProcessRunner::read_more(const std::shared_ptr<Child>& child) {
  child->output.async_read_some(asio::buffer(child->buffer), [this, child](const auto& error, std::size_t n) {
    if (n > 0 && child->callbacks.output) child->callbacks.output(std::string_view(child->buffer.data(), n));
    if (!error) {
      read_more(child);
      return;
    }
    if (error == asio::error::operation_aborted && child->output_closed) return;
    boost::system::error_code ignored;
    child->output.close(ignored);
    child->output_closed = true;
    child->drain.cancel();
    maybe_finish(child);
  });
}

void ProcessRunner::maybe_finish(const std::shared_ptr<Child>& child) {
  if (!child->exited || !child->output_closed || child->reported) return;
  child->reported = true;
  children_.erase(child->id);
  boost::system::error_code ignored;
  child->exit_watch.close(ignored);
  if (child->callbacks.exited) child->callbacks.exited(child->exit);
}

void ProcessRunner::signal(JobId id, int sig) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second->exited) return;
  ::kill(-it->second->pid, sig);
}

void ProcessRunner::signal_all(int sig) {
  for (auto& [id, child] : children_)
    if (!child->exited) ::kill(-child->pid, sig);
}

void ProcessRunner::kill_all() {
  for (auto& [id, child] : children_) {
    if (child->exited) continue;
    ::kill(-child->pid, SIGKILL);
  }
  // Reap synchronously: nothing may outlive us.
  for (auto& [id, child] : children_) {
    if (!child->exited) ::waitpid(child->pid, nullptr, 0);
    child->exited = true;
  }
}

}  // namespace xrun
