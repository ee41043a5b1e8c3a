#include "core/stop_signals.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

namespace xrun {

namespace {

std::atomic<std::uint64_t> g_received{0};
std::atomic<int> g_write_end{-1};
// The process that installed the handlers. A child forked before it execs
// (a mount helper, a fork server's start) has them too, and would count a
// terminal's Ctrl-C a second time through the inherited pipe.
std::atomic<pid_t> g_owner{0};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "a signal handler may only touch lock-free atomics");

extern "C" void on_stop_signal(int signal) {
  const int saved_errno = errno;
  if (::getpid() != g_owner.load(std::memory_order_relaxed)) return;
  g_received.fetch_add(1, std::memory_order_relaxed);
  const int fd = g_write_end.load(std::memory_order_relaxed);
  const auto byte = static_cast<unsigned char>(signal);
  // Non-blocking: with the pipe full (thousands of unread signals) the byte
  // is dropped; the loop has plenty to read already.
  if (fd >= 0) [[maybe_unused]]
    auto n = ::write(fd, &byte, 1);
  errno = saved_errno;
}

}  // namespace

std::uint64_t stop_signals_received() { return g_received.load(std::memory_order_relaxed); }

Expected<std::unique_ptr<StopSignals>> StopSignals::install(boost::asio::io_context& io, Handler handler) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0)
    return make_error(ExitCode::InfraError, std::string("cannot make a pipe for signals: ") + std::strerror(errno));
  return std::unique_ptr<StopSignals>(new StopSignals(io, std::move(handler), ends[0], ends[1]));
}

StopSignals::StopSignals(boost::asio::io_context& io, Handler handler, int read_end, int write_end)
    : pipe_(io, read_end), write_end_(write_end), handler_(std::move(handler)) {
  g_owner.store(::getpid());
  g_write_end.store(write_end_);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // A system call the signal lands in resumes: the loop learns of the
  // signal from the pipe, not from an EINTR somewhere in the library.
  action.sa_flags = SA_RESTART;
  for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &action, &previous_[i]);
  read_more();
}

StopSignals::~StopSignals() {
  for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &previous_[i], nullptr);
  g_write_end.store(-1);
  ::close(write_end_);
  boost::system::error_code ignored;
  pipe_.close(ignored);
}

void StopSignals::read_more() {
  pipe_.async_read_some(boost::asio::buffer(buffer_), [this](const boost::system::error_code& error, std::size_t n) {
    if (error) return;  // closed: the StopSignals is gone
    // Read on before handing them out: a handler that throws (the scheduler
    // catches it) must not leave the next Ctrl-C unread.
    const std::array<unsigned char, 64> signals = buffer_;
    read_more();
    for (std::size_t i = 0; i < n; ++i) handler_(signals[i]);
  });
}

}  // namespace xrun
