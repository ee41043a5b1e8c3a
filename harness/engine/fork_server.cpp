#include "engine/fork_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/log.h"
#include "engine/spawn.h"
#include "zygote_request.h"  // images/agent: the request format the library reads

namespace xrun {

namespace asio = boost::asio;

ForkServer::ForkServer(asio::io_context& io, ChildProcess process, int socket)
    : socket_(io, socket), ready_timer_(io), process_(std::move(process)) {}

ForkServer::~ForkServer() { kill(); }

Expected<std::shared_ptr<ForkServer>> ForkServer::start(asio::io_context& io, LaunchPlan plan,
                                                        const std::string& library, const std::string& cwd,
                                                        double ready_seconds) {
  // The preload is the guest's alone (-E): qemu itself, a host program,
  // must not try to load an aarch64 library. Right after qemu's name: before
  // the program and its arguments.
  plan.argv.insert(plan.argv.begin() + 1, {"-E", "LD_PRELOAD=" + library, "-E", "XRUN_ZYGOTE_FD=3"});
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return make_error(ExitCode::InfraError, std::string("socketpair: ") + std::strerror(errno));
  Fd ours(sv[0]);
  const Fd theirs(sv[1]);
  // In a PID namespace of its own like any job (where the kernel allows
  // one): whatever its tests leave behind dies with the server, at the end
  // of the run or with xrun. The pids it reports are then the namespace's;
  // host_pid() finds xrun's.
  // Its stdio is /dev/null (-1).
  SpawnSpec spec{&plan, cwd, -1, -1, -1, theirs.get(), true};
  auto process = spawn_job_process(spec);
  if (!process) return process.error();
  log_debug("fork server {} started: {}", process->pid(), plan.command_line());
  std::shared_ptr<ForkServer> server(new ForkServer(io, std::move(*process), ours.release()));
  // The library says "R" once main() is reached.
  std::weak_ptr<ForkServer> weak = server;
  server->ready_timer_.expires_after(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(ready_seconds)));
  server->ready_timer_.async_wait([weak](const auto& error) {
    auto self = weak.lock();
    if (error || !self || self->state_ != State::Starting) return;
    log_debug("fork server {} was not ready in time: killed", self->pid());
    self->died();
  });
  asio::async_read(server->socket_, asio::buffer(server->buffer_.data(), 1), [weak](const auto& error, std::size_t) {
    auto self = weak.lock();
    if (!self || self->state_ != State::Starting) return;
    self->ready_timer_.cancel();
    if (!error && self->buffer_[0] == XRUN_ZYGOTE_THREADED) {
      self->refusal_ = "its static initialisers started threads, which a forked test would not have";
      log_debug("fork server {}: {}", self->pid(), self->refusal_);
    }
    if (error || self->buffer_[0] != XRUN_ZYGOTE_READY) {
      self->died();
      return;
    }
    self->state_ = State::Ready;
    // pid 2 of its namespace (job_namespace.h), or the job process itself.
    const pid_t inner = self->descendant_with_inner_pid(2);
    self->server_pid_ = inner > 0 ? inner : self->pid();
    for (auto& ready : std::exchange(self->waiting_, {})) ready(true);
  });
  return server;
}

void ForkServer::when_ready(std::function<void(bool)> ready) {
  if (state_ == State::Starting)
    waiting_.push_back(std::move(ready));
  else
    ready(state_ == State::Ready);
}

void ForkServer::read_int(std::function<void(bool, int)> done) {
  auto self = shared_from_this();
  asio::async_read(socket_, asio::buffer(buffer_), [self, done = std::move(done)](const auto& error, std::size_t) {
    int value = 0;
    std::memcpy(&value, self->buffer_.data(), sizeof value);
    done(!error, value);
  });
}

void ForkServer::fork(const std::vector<std::string>& argv, const std::vector<std::string>& set_env,
                      std::array<int, 3> fds, std::function<void(pid_t)> started, std::function<void(Exit)> exited) {
  std::vector<std::string> words = argv, entries = set_env;
  std::vector<char*> argv_c, env_c;
  for (auto& w : words) argv_c.push_back(w.data());
  argv_c.push_back(nullptr);
  for (auto& e : entries) env_c.push_back(e.data());
  env_c.push_back(nullptr);
  if (state_ != State::Ready || busy_ ||
      xrun_zygote_send_request(socket_.native_handle(), argv_c.data(), env_c.data(), fds.data()) < 0) {
    if (state_ == State::Ready && !busy_) died();
    // Never from inside the call: the caller may still be setting the job up.
    asio::post(socket_.get_executor(), [started = std::move(started)] { started(-1); });
    return;
  }
  busy_ = true;
  exited_ = std::move(exited);
  read_int([this, started = std::move(started)](bool ok, int pid) {
    if (!ok || pid <= 0) {
      busy_ = false;
      exited_ = nullptr;
      died();
      started(-1);
      return;
    }
    started(host_pid(pid));
    read_int([this](bool ok_too, int status) {
      busy_ = false;
      auto report = std::exchange(exited_, nullptr);
      if (!ok_too) died();
      if (report) report(Exit{ok_too, status});
    });
  });
}

namespace {

std::string read_small_file(const std::string& path) {
  std::string text(4096, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  const ssize_t n = ::read(fd, text.data(), text.size());
  ::close(fd);
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return text;
}

// The pid a process has in the innermost PID namespace it is in (the last
// of /proc/PID/status's NSpid), or -1.
pid_t innermost_pid(pid_t pid) {
  const std::string status = read_small_file("/proc/" + std::to_string(pid) + "/status");
  const auto at = status.find("\nNSpid:");
  if (at == std::string::npos) return -1;
  const auto end = status.find('\n', at + 1);
  const std::string line = status.substr(at + 8, end - at - 8);
  const auto last = line.find_last_not_of(" \t");
  const auto start = line.find_last_of(" \t", last);
  return static_cast<pid_t>(std::atoi(line.c_str() + (start == std::string::npos ? 0 : start + 1)));
}

}  // namespace

// The server's tree is short: the job process, the namespace's pid 1, the
// server, its child (job_namespace.h); without a namespace the server is
// the job process itself. The child is the descendant whose innermost pid
// is the one reported.
pid_t ForkServer::host_pid(pid_t reported) const {
  const pid_t found = descendant_with_inner_pid(reported);
  return found > 0 ? found : reported;  // no namespace (or no /proc/.../children): the pid is xrun's
}

pid_t ForkServer::descendant_with_inner_pid(pid_t inner) const {
  std::vector<pid_t> level{pid()};
  for (int depth = 0; depth < 4 && !level.empty(); ++depth) {
    std::vector<pid_t> next;
    for (pid_t parent : level) {
      std::string children =
          read_small_file("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) + "/children");
      for (std::size_t at = 0; at < children.size();) {
        const pid_t child = static_cast<pid_t>(std::atoi(children.c_str() + at));
        if (child > 0) {
          if (innermost_pid(child) == inner) return child;
          next.push_back(child);
        }
        at = children.find(' ', at);
        if (at == std::string::npos) break;
        ++at;
      }
    }
    level = std::move(next);
  }
  return -1;
}

void ForkServer::died() {
  if (state_ == State::Dead) return;
  const bool was_ready = state_ == State::Ready;
  state_ = State::Dead;
  if (was_ready)
    stop();
  else
    kill_now();  // never ready: nothing of it to wait for
  for (auto& ready : std::exchange(waiting_, {})) ready(false);
}

namespace {

constexpr int kLeaveMilliseconds = 1000;  // what a server gets to leave by itself

// Until `fd` (a pidfd) is readable -- its process ended -- or `milliseconds`.
bool ended_within(int fd, int milliseconds) {
  if (fd < 0) return true;
  pollfd ended{fd, POLLIN, 0};
  int ready;
  while ((ready = ::poll(&ended, 1, milliseconds)) < 0 && errno == EINTR) {
  }
  return ready != 0;
}

}  // namespace

void ForkServer::kill_now() {
  if (!process_) return;
  // Stuck (in a static initialiser) or not reading: killed, the server
  // first (the namespace it is in goes only after the job process).
  const pid_t server = server_pid_ != process_.pid() ? server_pid_ : -1;
  const Fd server_ended(server > 0 ? static_cast<int>(::syscall(SYS_pidfd_open, server, 0)) : -1);
  if (server > 0) ::kill(server, SIGKILL);
  process_.kill_and_reap();  // at once after SIGKILL
  // The server is the namespace's, not xrun's child: its end (a zombie its
  // new parent has yet to reap holds nothing) through a pidfd of its own.
  ended_within(server_ended.get(), kLeaveMilliseconds);
  process_ = ChildProcess();
  server_pid_ = -1;
}

// When this returns nothing of the server is left: xrun's tests and users
// look for leftover processes the moment xrun exits.
void ForkServer::kill() {
  if (!process_) return;
  boost::system::error_code ignored;
  ready_timer_.cancel();
  // Its socket closed, a waiting server exits by itself (a busy one once its
  // child, already killed, is reaped), and the job process mirrors it, after
  // the server is gone.
  socket_.close(ignored);
  if (state_ != State::Starting && ended_within(process_.pidfd(), kLeaveMilliseconds) && process_.try_reap()) {
    process_ = ChildProcess();
    server_pid_ = -1;
  } else {
    kill_now();
  }
  state_ = State::Dead;
}

void ForkServer::stop(std::function<void()> done) {
  auto self = shared_from_this();
  boost::system::error_code ignored;
  ready_timer_.cancel();
  socket_.close(ignored);
  const bool was_starting = state_ == State::Starting;
  state_ = State::Dead;
  if (!process_ || was_starting) {
    kill_now();
    if (done) asio::post(socket_.get_executor(), std::move(done));
    return;
  }
  // It leaves by itself once its socket is closed; a second, then killed.
  auto& io = static_cast<asio::io_context&>(socket_.get_executor().context());
  ready_timer_.expires_after(std::chrono::milliseconds(kLeaveMilliseconds));
  auto finished = std::make_shared<std::function<void()>>(std::move(done));
  ready_timer_.async_wait([self, finished](const auto& error) {
    if (error || !self->process_) return;
    self->kill_now();  // its exit handler goes with it: told here
    if (auto tell = std::exchange(*finished, nullptr)) tell();
  });
  process_.async_wait(io, [self, finished](int) {
    self->ready_timer_.cancel();
    self->process_ = ChildProcess();
    self->server_pid_ = -1;
    if (auto tell = std::exchange(*finished, nullptr)) tell();
  });
}

}  // namespace xrun
