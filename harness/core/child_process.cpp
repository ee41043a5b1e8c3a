#include "core/child_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace xrun {

namespace asio = boost::asio;

struct ChildProcess::State {
  pid_t pid = -1;
  bool own_group = true;
  Fd pidfd;
  bool reaped = false;
  int status = -1;
  // On a copy of the pidfd (the descriptor owns what it is given).
  std::unique_ptr<asio::posix::stream_descriptor> watch;
  std::unique_ptr<asio::steady_timer> escalation;
  std::function<void(int)> on_exit;

  // waitpid(WNOHANG): the status if it ended. A readiness event may be
  // stale (a closed pidfd's number reused within one epoll batch): never a
  // blocking wait here.
  std::optional<int> reap_now() {
    if (reaped) return status;
    int s = 0;
    pid_t r;
    while ((r = ::waitpid(pid, &s, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == 0) return std::nullopt;
    reaped = true;
    status = r == pid ? s : -1;  // ECHILD: someone else reaped it
    return status;
  }
  int reap_blocking() {
    if (reaped) return status;
    int s = 0;
    pid_t r;
    while ((r = ::waitpid(pid, &s, 0)) < 0 && errno == EINTR) {
    }
    reaped = true;
    status = r == pid ? s : -1;
    return status;
  }
  bool send(int sig) const {
    bool sent = false;
    if (own_group) sent = ::kill(-pid, sig) == 0;
    // The child itself, unless reaped (its pid may then be another's).
    if (!reaped && (!sent || sig == SIGKILL)) sent = ::kill(pid, sig) == 0 || sent;
    return sent;
  }
  void stop_watching() {
    boost::system::error_code ignored;
    if (watch) watch->close(ignored);
    if (escalation) escalation->cancel();
    on_exit = nullptr;
  }
};

Expected<ChildProcess> ChildProcess::adopt(pid_t pid, bool own_group) {
  // pidfd_open(2): raw syscall, glibc 2.36's <sys/pidfd.h> is not usable from C++.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    // Without a pidfd nobody would notice this child end: ended now.
    const int err = errno;
    if (own_group) ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return make_error(ExitCode::InfraError, std::string("pidfd_open: ") + std::strerror(err));
  }
  ChildProcess child;
  child.state_ = std::make_shared<State>();
  child.state_->pid = pid;
  child.state_->own_group = own_group;
  child.state_->pidfd.reset(pidfd);
  return child;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (state_ && !state_->reaped) kill_and_reap();
    if (state_) state_->stop_watching();
    state_ = std::move(other.state_);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (!state_) return;
  state_->stop_watching();
  if (!state_->reaped) kill_and_reap();
}

pid_t ChildProcess::pid() const { return state_ ? state_->pid : -1; }
int ChildProcess::pidfd() const { return state_ ? state_->pidfd.get() : -1; }
bool ChildProcess::reaped() const { return state_ && state_->reaped; }
std::optional<int> ChildProcess::wait_status() const {
  if (!state_ || !state_->reaped) return std::nullopt;
  return state_->status;
}

bool ChildProcess::signal(int sig) const { return state_ && state_->send(sig); }

bool ChildProcess::has_exited() const {
  if (!state_) return true;
  if (state_->reaped) return true;
  pollfd ended{state_->pidfd.get(), POLLIN, 0};
  return ::poll(&ended, 1, 0) == 1;
}

std::optional<int> ChildProcess::try_reap() {
  if (!state_) return std::nullopt;
  return state_->reap_now();
}

int ChildProcess::wait() { return state_ ? state_->reap_blocking() : -1; }

int ChildProcess::kill_and_reap() {
  if (!state_) return -1;
  if (!state_->reaped) state_->send(SIGKILL);
  return state_->reap_blocking();
}

void ChildProcess::arm(const std::shared_ptr<State>& state) {
  std::weak_ptr<State> weak = state;
  state->watch->async_wait(asio::posix::stream_descriptor::wait_read, [weak](const boost::system::error_code& error) {
    auto s = weak.lock();
    if (!s || error == asio::error::operation_aborted || !s->on_exit) return;
    const auto status = s->reap_now();
    if (!status) {
      arm(s);
      return;
    }
    // Reaped: nothing left to watch (and nothing that needs the io_context
    // once this returns, should it go before this object).
    s->watch.reset();
    s->escalation.reset();
    auto done = std::exchange(s->on_exit, nullptr);
    done(*status);  // may destroy the ChildProcess: `s` keeps the state until here
  });
}

void ChildProcess::async_wait(asio::io_context& io, std::function<void(int)> done) {
  if (!state_) return;
  state_->on_exit = std::move(done);
  if (state_->reaped) {
    asio::post(io, [weak = std::weak_ptr<State>(state_)] {
      if (auto s = weak.lock(); s && s->on_exit) std::exchange(s->on_exit, nullptr)(s->status);
    });
    return;
  }
  if (!state_->watch) {
    const int copy = ::fcntl(state_->pidfd.get(), F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      // Cannot watch it: it is ended now rather than never noticed.
      kill_and_reap();
      async_wait(io, std::exchange(state_->on_exit, nullptr));
      return;
    }
    state_->watch = std::make_unique<asio::posix::stream_descriptor>(io, copy);
  }
  arm(state_);
}

void ChildProcess::kill_with_escalation(asio::io_context& io, std::chrono::steady_clock::duration grace,
                                        std::function<void(int)> done) {
  if (!state_) return;
  async_wait(io, std::move(done));
  if (state_->reaped) return;
  state_->send(SIGTERM);
  if (!state_->escalation) state_->escalation = std::make_unique<asio::steady_timer>(io);
  state_->escalation->expires_after(grace);
  state_->escalation->async_wait([weak = std::weak_ptr<State>(state_)](const boost::system::error_code& error) {
    auto s = weak.lock();
    if (error || !s || s->reaped) return;
    s->send(SIGKILL);
  });
}

pid_t ChildProcess::release() {
  if (!state_) return -1;
  state_->stop_watching();
  const pid_t pid = state_->pid;
  state_.reset();
  return pid;
}

// ------------------------------------------------------------- prelude ---

int run_child_prelude(const ChildPrelude& c) noexcept {
  if (c.own_group) ::setpgid(0, 0);  // its own group: timeouts and Ctrl-C signal the whole tree
  if (c.enter && !c.enter(c.enter_arg)) return -1;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // if xrun dies, so does the child
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
  // The error pipe out of the way of the stdio, the channel and whatever
  // the caller places above them.
  int error_fd = c.error_fd;
  if (error_fd >= 0 && error_fd <= c.error_fd_above)
    error_fd = ::fcntl(error_fd, F_DUPFD_CLOEXEC, c.error_fd_above + 1);
  const int stdio[3] = {c.stdin_fd, c.stdout_fd, c.stderr_fd};
  for (int target = 0; target < 3; ++target) {
    int fd = stdio[target];
    if (fd < 0) fd = ::open("/dev/null", (target == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
    if (fd < 0) continue;
    if (fd == target)
      ::fcntl(fd, F_SETFD, 0);
    else
      ::dup2(fd, target);
  }
  // Descriptors xrun itself inherited without close-on-exec (from a shell,
  // a CI agent) must not reach the program: everything above stderr is
  // close-on-exec. Not a plain close: the error pipe must live until exec.
  ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  // The channel is the one exception (dup2 leaves the copy open on exec).
  if (c.channel_fd >= 0) {
    if (c.channel_fd != 3)
      ::dup2(c.channel_fd, 3);
    else
      ::fcntl(3, F_SETFD, 0);
  }
  return error_fd;
}

void report_exec_failure(int error_fd, int err) noexcept {
  // Tell the parent why, through the close-on-exec pipe (Boost.Process's habit).
  (void)!::write(error_fd, &err, sizeof err);
  ::_exit(127);
}

int read_exec_error(const Fd& error_read) {
  int child_errno = 0;
  ssize_t n;
  while ((n = ::read(error_read.get(), &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  return n == sizeof child_errno ? child_errno : 0;
}

// -------------------------------------------------------- spawn_process ---

namespace {

// Everything the child needs, prepared before the fork.
struct Plan {
  ChildPrelude prelude;
  const char* file;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  bool search_path;
  const std::function<bool()>* enter;
};

// What the child reports when its `enter` failed; a negative errno: its cwd's.
constexpr int kEnterFailed = -100000;

bool call_enter(const void* arg) { return (*static_cast<const std::function<bool()>*>(arg))(); }

[[noreturn]] void run_child(const Plan& p) {
  const int error_fd = run_child_prelude(p.prelude);
  if (error_fd < 0) report_exec_failure(p.prelude.error_fd, kEnterFailed);  // (or xrun is gone: nobody reads)
  if (p.cwd && ::chdir(p.cwd) != 0) report_exec_failure(error_fd, -errno);  // negative: the cwd's
  if (p.search_path)
    ::execvpe(p.file, p.argv, p.envp);
  else
    ::execve(p.file, p.argv, p.envp);
  report_exec_failure(error_fd, errno);
}

}  // namespace

Expected<ChildProcess> spawn_process(const ChildSpec& spec) {
  if (spec.argv.empty()) return make_error(ExitCode::InfraError, "nothing to run");
  auto error_pipe = make_pipe();
  if (!error_pipe) return error_pipe.error();
  std::vector<std::string> words = spec.argv;  // exec needs char*, not const
  std::vector<char*> argv, envp;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  std::vector<std::string> entries;
  if (spec.env) {
    entries = *spec.env;
    for (auto& entry : entries) envp.push_back(entry.data());
    envp.push_back(nullptr);
  }
  Plan plan{};
  plan.prelude.parent = ::getpid();
  plan.prelude.own_group = spec.own_group;
  plan.prelude.stdin_fd = spec.stdin_fd;
  plan.prelude.stdout_fd = spec.stdout_fd;
  plan.prelude.stderr_fd = spec.stderr_fd;
  plan.prelude.error_fd = error_pipe->write.get();
  if (spec.enter) {
    plan.prelude.enter = call_enter;
    plan.prelude.enter_arg = &spec.enter;
  }
  plan.file = argv[0];
  plan.argv = argv.data();
  plan.envp = spec.env ? envp.data() : environ;
  plan.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  plan.search_path = spec.search_path;

  pid_t pid;
  if (!spec.enter) {
    // vfork: the child borrows xrun's memory until it execs (no page tables
    // copied). No handler of xrun's may run in it before the prelude reset
    // them: every signal blocked across the vfork.
    sigset_t all, old;
    sigfillset(&all);
    ::sigprocmask(SIG_SETMASK, &all, &old);
    pid = ::vfork();
    if (pid == 0) run_child(plan);
    const int fork_errno = errno;
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    errno = fork_errno;
  } else {
    pid = ::fork();
    if (pid == 0) run_child(plan);
  }
  if (pid < 0) return make_error(ExitCode::InfraError, std::string("fork: ") + std::strerror(errno));
  if (spec.own_group) ::setpgid(pid, pid);  // also here, so a signal sent right away reaches the group
  error_pipe->write.reset();
  const int err = read_exec_error(error_pipe->read);
  if (err != 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return make_error(ExitCode::InfraError, err == kEnterFailed ? spec.argv[0] + ": cannot be started in its namespaces"
                                            : err < 0 ? "cannot enter " + spec.cwd + ": " + std::strerror(-err)
                                                      : spec.argv[0] + ": cannot execute: " + std::strerror(err));
  }
  return ChildProcess::adopt(pid, spec.own_group);
}

}  // namespace xrun
