#include "backends/board/reset_command.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cstring>

#include "backends/board/ssh.h"
#include "core/fs_util.h"

namespace xrun {

namespace asio = boost::asio;

namespace {

class Reset final : public ResetCommand, public std::enable_shared_from_this<Reset> {
 public:
  Reset(asio::io_context& io, TimeSource& time, std::string log, std::function<void(ResetResult)> done)
      : io_(io), out_(io), exit_(io), timer_(time.make_timer()), log_(std::move(log)), done_(std::move(done)) {}

  void start(const std::string& command, TimeSource::Clock::duration limit) {
    auto child = spawn_piped({"sh", "-c", command}, log_);
    const int pid_fd = child ? static_cast<int>(::syscall(SYS_pidfd_open, child->pid, 0)) : -1;
    if (!child || pid_fd < 0) {
      result_.said = child ? std::string("pidfd_open: ") + std::strerror(errno) : child.error().message;
      if (child) end_child(*child);
      return asio::post(io_, [self = shared_from_this()] { self->finish(); });
    }
    result_.started = true;
    pid_ = child->pid;
    ::close(child->stdin_fd);  // it reads nothing
    out_.assign(child->stdout_fd);
    exit_.assign(pid_fd);
    timer_->start(limit, [weak = weak_from_this()] {
      auto self = weak.lock();
      if (!self || !self->done_ || self->pid_ <= 0) return;
      self->result_.timed_out = true;
      ::kill(-self->pid_, SIGKILL);  // its end comes through the pidfd
    });
    read();
    wait_exit();
  }

  void cancel() override {
    done_ = nullptr;
    timer_->cancel();
    boost::system::error_code ignored;
    out_.close(ignored);
    exit_.close(ignored);
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);  // after our SIGKILL: at once
      pid_ = -1;
    }
  }

 private:
  static void end_child(const PipedChild& child) {
    ::kill(-child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);  // after our SIGKILL: at once
    ::close(child.stdin_fd);
    ::close(child.stdout_fd);
  }

  void read() {
    out_.async_read_some(asio::buffer(buffer_),
                         [weak = weak_from_this()](const boost::system::error_code& error, std::size_t n) {
                           auto self = weak.lock();
                           if (!self || error) return;  // EOF: the end comes through the pidfd
                           self->out_text_.append(self->buffer_.data(), n);
                           if (self->out_text_.size() > kKept) self->out_text_.erase(0, self->out_text_.size() - kKept);
                           self->read();
                         });
  }

  void wait_exit() {
    exit_.async_wait(asio::posix::stream_descriptor::wait_read, [weak = weak_from_this()](const auto& error) {
      auto self = weak.lock();
      if (!self || error || self->pid_ <= 0) return;
      int status = 0;
      const pid_t reaped = ::waitpid(self->pid_, &status, WNOHANG);  // readable: it has ended
      if (reaped == 0) return self->wait_exit();
      self->pid_ = -1;
      self->result_.status = reaped < 0 ? -1 : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
      // What it printed last may still be in the pipe: read it now (its
      // writers are gone, so this does not wait).
      out_read_rest(*self);
      self->finish();
    });
  }

  static void out_read_rest(Reset& self) {
    boost::system::error_code error;
    self.out_.non_blocking(true, error);
    for (;;) {
      const std::size_t n = self.out_.read_some(asio::buffer(self.buffer_), error);
      if (error || n == 0) break;
      self.out_text_.append(self.buffer_.data(), n);
    }
    if (self.out_text_.size() > kKept) self.out_text_.erase(0, self.out_text_.size() - kKept);
  }

  void finish() {
    timer_->cancel();
    boost::system::error_code ignored;
    out_.close(ignored);
    exit_.close(ignored);
    std::string err = read_file(log_).value_or("");
    if (err.size() > kKept) err.erase(0, err.size() - kKept);
    result_.said = out_text_ + err + result_.said;
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(result_));
  }

  static constexpr std::size_t kKept = 64 * 1024;
  asio::io_context& io_;
  asio::posix::stream_descriptor out_, exit_;
  std::unique_ptr<TimeSource::Timer> timer_;
  std::string log_;
  std::function<void(ResetResult)> done_;
  pid_t pid_ = -1;
  std::array<char, 4096> buffer_{};
  std::string out_text_;
  ResetResult result_;
};

}  // namespace

std::shared_ptr<ResetCommand> run_reset_command(asio::io_context& io, TimeSource& time, const std::string& command,
                                                const std::string& stderr_log, TimeSource::Clock::duration limit,
                                                std::function<void(ResetResult)> done) {
  auto reset = std::make_shared<Reset>(io, time, stderr_log, std::move(done));
  reset->start(command, limit);
  return reset;
}

}  // namespace xrun
