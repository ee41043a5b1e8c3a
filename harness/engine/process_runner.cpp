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
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <deque>

#include "binfmt/foreign_exec.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "engine/job_namespace.h"
#include "engine/test_model.h"
#include "launch/launcher.h"
#include "launch/qemu_faults.h"
#include "target/target_table.h"

namespace xrun {

namespace asio = boost::asio;

// One of a child's output pipes.
struct ProcessRunner::Stream {
  explicit Stream(asio::io_context& io) : pipe(io) {}
  asio::posix::stream_descriptor pipe;
  std::array<char, 65536> buffer;
  bool closed = true;  // until a pipe is assigned
  bool to_error_sink = false;
};

struct ProcessRunner::Child {
  Child(asio::io_context& io, int pid_fd) : out(io), err(io), in(io), exit_watch(io, pid_fd), drain(io) {}
  JobId id = 0;
  pid_t pid = -1;
  Stream out, err;
  asio::posix::stream_descriptor in;  // the write end of the program's stdin, with forward_stdin
  std::deque<std::string> stdin_queue;
  bool stdin_writing = false, stdin_eof = false;
  asio::posix::stream_descriptor exit_watch;
  asio::steady_timer drain;  // bounds the wait for EOF after exit (a grandchild may hold the pipe)
  Callbacks callbacks;
  bool exited = false;
  bool reported = false;
  JobExit exit;
  bool emulated = false;
  QemuFaultScan faults;
  std::string tmp_dir;  // its private TMPDIR, removed at the end
};

ProcessRunner::ProcessRunner(asio::io_context& io, const Config& config, OverlayStore overlays)
    : io_(io),
      config_(config),
      overlays_(std::move(overlays)),
      base_env_(current_environment()),
      tmp_dirs_(get_env("TMPDIR").value_or("/tmp")) {}

ProcessRunner::~ProcessRunner() { kill_all(); }

namespace {


// Pipes of one job, closed unless handed over.
struct Pipes {
  int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1}, exec_error[2] = {-1, -1};
  ~Pipes() {
    for (int* pair : {out, err, in, exec_error})
      for (int i = 0; i < 2; ++i)
        if (pair[i] >= 0) ::close(pair[i]);
  }
  static int take(int& fd) { return std::exchange(fd, -1); }
};

}  // namespace

Expected<JobStarted> ProcessRunner::start(const JobRequest& request, Callbacks callbacks) {
  std::vector<std::string> env = base_env_;
  set_environment(env, request.extra_env);
  std::string tmp_dir;
  if (request.private_tmpdir) {
    if (auto dir = tmp_dirs_.make()) {
      tmp_dir = *dir;
      set_environment(env, {"TMPDIR=" + tmp_dir});
    }
  }
  struct TmpGuard {  // until the child owns it
    JobTmpDirs& dirs;
    std::string& dir;
    ~TmpGuard() {
      if (!dir.empty()) dirs.remove(dir);
    }
  } tmp_guard{tmp_dirs_, tmp_dir};

  RunRequest run;
  run.program = request.program;
  run.args = request.args;
  run.argv0 = request.argv0;
  run.target = request.target;
  run.elf = request.elf;
  auto plan = plan_launch(run, config_, TargetTable::builtin(), overlays_, env);
  if (!plan) return plan.error();
  log_debug("start{}: {}", request.cwd.empty() ? "" : " in " + request.cwd, plan->command_line());

  Pipes pipes;
  const auto pipe_error = [] { return make_error(ExitCode::InfraError, std::string("pipe: ") + std::strerror(errno)); };
  if (::pipe2(pipes.out, O_CLOEXEC) != 0 || ::pipe2(pipes.exec_error, O_CLOEXEC) != 0) return pipe_error();
  if (callbacks.error_output && ::pipe2(pipes.err, O_CLOEXEC) != 0) return pipe_error();
  if (request.forward_stdin && ::pipe2(pipes.in, O_CLOEXEC) != 0) return pipe_error();
  std::vector<char*> argv, envp;
  for (auto& word : plan->argv) argv.push_back(word.data());
  argv.push_back(nullptr);
  for (auto& entry : plan->env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const char* cwd = request.cwd.empty() ? nullptr : request.cwd.c_str();
  const pid_t parent = ::getpid();
  const int child_in = pipes.in[0], child_out = pipes.out[1], child_err = pipes.err[1] >= 0 ? pipes.err[1] : pipes.out[1];
  const int exec_error = pipes.exec_error[1];
  // An emulated program may run foreign programs itself (foreign_exec.h):
  // decided before the fork, entered by the child.
  const ForeignExec* foreign = plan->emulated ? &ForeignExec::for_this_process() : nullptr;

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
    const int in = child_in >= 0 ? child_in : ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in >= 0) ::dup2(in, STDIN_FILENO);
    ::dup2(child_out, STDOUT_FILENO);
    ::dup2(child_err, STDERR_FILENO);
    // Descriptors xrun itself inherited without close-on-exec (from a shell,
    // a CI agent) must not reach the test: mark everything above stderr
    // close-on-exec. Not a plain close: the error pipe must live until exec.
    ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
    if (foreign) foreign->enter();  // if the kernel refuses, it runs as it would have without
    // From here on the program and all it starts live in a PID namespace
    // of the job's own, where the kernel allows one (job_namespace.h).
    enter_job_pid_namespace(exec_error);
    int err = 0;
    if (cwd && ::chdir(cwd) != 0) err = errno;
    if (err == 0) {
      ::execve(plan->executable.c_str(), argv.data(), envp.data());
      err = errno;
    }
    // Tell the parent why, through the close-on-exec pipe (Boost.Process's habit).
    (void)!::write(exec_error, &err, sizeof err);
    _exit(127);
  }
  ::setpgid(pid, pid);  // also here, so a signal sent right away reaches the group
  for (int* fd : {&pipes.out[1], &pipes.err[1], &pipes.in[0], &pipes.exec_error[1]}) {
    if (*fd >= 0) ::close(Pipes::take(*fd));
  }
  int child_errno = 0;
  ssize_t n;
  while ((n = ::read(pipes.exec_error[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  if (n == sizeof child_errno) {
    ::waitpid(pid, nullptr, 0);
    return make_error(ExitCode::InfraError, (request.cwd.empty() || child_errno != ENOENT
                                                 ? plan->executable + ": cannot execute: "
                                                 : "cannot enter " + request.cwd + ": ") +
                                                std::strerror(child_errno));
  }
  // pidfd_open(2): raw syscall, glibc 2.36's <sys/pidfd.h> is not usable from C++.
  const int pid_fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pid_fd < 0) {
    const int err = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return make_error(ExitCode::InfraError, std::string("pidfd_open: ") + std::strerror(err));
  }
  auto child = std::make_shared<Child>(io_, pid_fd);
  child->id = next_id_++;
  child->pid = pid;
  child->callbacks = std::move(callbacks);
  child->emulated = plan->emulated;
  child->tmp_dir = std::exchange(tmp_dir, "");
  child->out.pipe.assign(Pipes::take(pipes.out[0]));
  child->out.closed = false;
  if (pipes.err[0] >= 0) {
    child->err.pipe.assign(Pipes::take(pipes.err[0]));
    child->err.closed = false;
    child->err.to_error_sink = true;
  }
  if (pipes.in[1] >= 0) {
    ::fcntl(pipes.in[1], F_SETFL, O_NONBLOCK);
    child->in.assign(Pipes::take(pipes.in[1]));
  }
  children_[child->id] = child;

  watch_exit(child);
  read_more(child, child->out);
  if (!child->err.closed) read_more(child, child->err);
  return JobStarted{child->id,
                    plan->emulated ? std::string(backend_name(Backend::QemuUser)) : std::string(kNativeBackendName),
                    plan->target};
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
    boost::system::error_code ignored;
    child->in.close(ignored);
    if (!child->out.closed || !child->err.closed) {
      child->drain.expires_after(std::chrono::seconds(2));
      child->drain.async_wait([this, child](const auto& e) {
        if (e || (child->out.closed && child->err.closed)) return;
        ::kill(-child->pid, SIGKILL);
        boost::system::error_code ignored_too;
        for (Stream* s : {&child->out, &child->err}) {
          s->pipe.close(ignored_too);
          s->closed = true;
        }
        maybe_finish(child);
      });
    }
    maybe_finish(child);
  });
}

void ProcessRunner::read_more(const std::shared_ptr<Child>& child, Stream& stream) {
  stream.pipe.async_read_some(asio::buffer(stream.buffer), [this, child, &stream](const auto& error, std::size_t n) {
    if (n > 0) {
      const std::string_view bytes(stream.buffer.data(), n);
      if (child->emulated) child->faults.feed(bytes);  // qemu's own lines are on stderr, or on the one pipe
      const auto& sink = stream.to_error_sink ? child->callbacks.error_output : child->callbacks.output;
      if (sink) sink(bytes);
    }
    if (!error) {
      read_more(child, stream);
      return;
    }
    if (error == asio::error::operation_aborted && stream.closed) return;
    boost::system::error_code ignored;
    stream.pipe.close(ignored);
    stream.closed = true;
    if (child->out.closed && child->err.closed) child->drain.cancel();
    maybe_finish(child);
  });
}

void ProcessRunner::maybe_finish(const std::shared_ptr<Child>& child) {
  if (!child->exited || !child->out.closed || !child->err.closed || child->reported) return;
  child->reported = true;
  children_.erase(child->id);
  boost::system::error_code ignored;
  child->exit_watch.close(ignored);
  if (!child->tmp_dir.empty()) tmp_dirs_.remove(child->tmp_dir);
  // qemu failing is not the program failing; a program that ended well is
  // its own however odd its output.
  if (child->emulated && (child->exit.signaled || child->exit.code != 0)) {
    if (auto line = child->faults.finish()) {
      child->exit.infra_error =
          "the emulator failed: " + *line + " (" +
          (child->exit.signaled ? "qemu died of " + signal_name(child->exit.signal)
                                : "exit status " + std::to_string(child->exit.code)) +
          ")";
    }
  }
  if (child->callbacks.exited) child->callbacks.exited(child->exit);
}

void ProcessRunner::send_stdin(JobId id, std::string_view bytes) {
  auto it = children_.find(id);
  if (it == children_.end() || !it->second->in.is_open() || it->second->stdin_eof) return;
  auto child = it->second;
  if (bytes.empty()) child->stdin_eof = true;
  else child->stdin_queue.emplace_back(bytes);
  if (!child->stdin_writing) write_stdin(child);
}

void ProcessRunner::write_stdin(const std::shared_ptr<Child>& child) {
  boost::system::error_code ignored;
  if (child->stdin_queue.empty()) {
    child->stdin_writing = false;
    if (child->stdin_eof) child->in.close(ignored);
    return;
  }
  child->stdin_writing = true;
  asio::async_write(child->in, asio::buffer(child->stdin_queue.front()), [this, child](const auto& error, std::size_t) {
    if (error) {  // the program closed its stdin (or ended): the rest has nowhere to go
      child->stdin_queue.clear();
      child->stdin_writing = false;
      boost::system::error_code ignored_too;
      child->in.close(ignored_too);
      return;
    }
    child->stdin_queue.pop_front();
    write_stdin(child);
  });
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
    if (!child->tmp_dir.empty()) tmp_dirs_.remove(child->tmp_dir);
  }
}

}  // namespace xrun
