#include "backends/interactive_run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <cstdio>
#include <functional>

namespace xrun {

namespace asio = boost::asio;

namespace {

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a closed stdout: the program's output has nowhere to go
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Our stdin, read on the loop and handed to the job. asio reads regular
// files (and /dev/null), which epoll cannot watch, without the reactor; a
// terminal or pipe is made non-blocking while we read it and given back as
// it was.
class StdinPump {
 public:
  StdinPump(asio::io_context& io, JobRunner& runner, JobId job) : in_(io), runner_(runner), job_(job) {
    const int fd = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
    flags_ = fd >= 0 ? ::fcntl(fd, F_GETFL) : -1;
    boost::system::error_code error;
    if (fd >= 0) in_.assign(fd, error);
    if (fd < 0 || error) {
      if (fd >= 0) ::close(fd);
      runner_.send_stdin(job_, {});  // no stdin at all: the program sees its end
      return;
    }
    read_more();
  }
  ~StdinPump() {
    if (in_.is_open() && flags_ >= 0) ::fcntl(in_.native_handle(), F_SETFL, flags_);
  }

 private:
  void read_more() {
    in_.async_read_some(asio::buffer(buffer_), [this](const boost::system::error_code& error, std::size_t n) {
      if (error == asio::error::operation_aborted) return;
      runner_.send_stdin(job_, std::string_view(buffer_.data(), n));
      if (error) {
        if (n > 0) runner_.send_stdin(job_, {});
        return;
      }
      if (n > 0) read_more();
    });
  }
  asio::posix::stream_descriptor in_;
  JobRunner& runner_;
  JobId job_;
  int flags_ = -1;
  std::array<char, 65536> buffer_;
};

}  // namespace

Expected<JobExit> run_interactive(asio::io_context& io, JobRunner& runner, JobRequest request) {
  // First: a Ctrl-C that comes while the backend gets ready (a VM's work
  // directory, a device-tree dump) waits here and reaches the program.
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  ::signal(SIGPIPE, SIG_IGN);
  std::optional<JobExit> result;
  request.forward_stdin = true;
  JobRunner::Callbacks callbacks;
  callbacks.output = [](std::string_view bytes) { write_all(STDOUT_FILENO, bytes); };
  callbacks.error_output = [](std::string_view bytes) { write_all(STDERR_FILENO, bytes); };
  callbacks.exited = [&](const JobExit& exit) {
    result = exit;
    io.stop();
  };
  auto started = runner.start(request, std::move(callbacks));
  if (!started) return started.error();
  const JobId id = started->id;
  std::function<void(const boost::system::error_code&, int)> forward = [&](const auto& error, int sig) {
    if (error) return;
    runner.signal(id, sig);
    signals.async_wait(forward);
  };
  signals.async_wait(forward);
  std::optional<StdinPump> stdin_pump;
  stdin_pump.emplace(io, runner, id);
  if (!result) io.run();
  signals.cancel();
  stdin_pump.reset();
  if (!result) return make_error(ExitCode::CannotExecute, "the run ended without a result");
  return *result;
}

void finish_like(const JobExit& exit) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (!exit.signaled) ::_exit(exit.code);
  // Die of the same signal, without a core file of xrun itself.
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::signal(exit.signal, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, exit.signal);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(exit.signal);
  ::_exit(128 + exit.signal);
}

}  // namespace xrun
