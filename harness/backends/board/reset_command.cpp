#include "backends/board/reset_command.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

#include "backends/board/ssh.h"
#include "core/fs_util.h"

namespace xrun {

namespace asio = boost::asio;

namespace {

class Reset final : public ResetCommand, public std::enable_shared_from_this<Reset> {
 public:
  Reset(asio::io_context& io, TimeSource& time, std::string log, std::function<void(ResetResult)> done)
      : io_(io), out_(io), timer_(time.make_timer()), log_(std::move(log)), done_(std::move(done)) {}

  void start(const std::string& command, TimeSource::Clock::duration limit) {
    auto child = spawn_piped({"sh", "-c", command}, log_);
    if (!child) {
      result_.said = child.error().message;
      return asio::post(io_, [self = shared_from_this()] { self->finish(); });
    }
    result_.started = true;
    child_ = std::move(child->process);
    child->stdin_fd.reset();  // it reads nothing
    out_.assign(child->stdout_fd.release());
    timer_->start(limit, [weak = weak_from_this()] {
      auto self = weak.lock();
      if (!self || !self->done_ || self->child_.reaped()) return;
      self->result_.timed_out = true;
      self->child_.signal(SIGKILL);  // its end comes through the pidfd
    });
    read();
    child_.async_wait(io_, [weak = weak_from_this()](int status) {
      auto self = weak.lock();
      if (!self || !self->done_) return;
      self->result_.status = status < 0 ? -1 : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
      // What it printed last may still be in the pipe: read it now (its
      // writers are gone, so this does not wait).
      out_read_rest(*self);
      self->finish();
    });
  }

  void cancel() override {
    done_ = nullptr;
    timer_->cancel();
    boost::system::error_code ignored;
    out_.close(ignored);
    if (child_ && !child_.reaped()) child_.kill_and_reap();  // after our SIGKILL: at once
  }

 private:
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
    std::string err = read_file(log_).value_or("");
    if (err.size() > kKept) err.erase(0, err.size() - kKept);
    result_.said = out_text_ + err + result_.said;
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(result_));
  }

  static constexpr std::size_t kKept = 64 * 1024;
  asio::io_context& io_;
  asio::posix::stream_descriptor out_;
  ChildProcess child_;  // the command, killed and reaped by its owner if still there
  std::unique_ptr<TimeSource::Timer> timer_;
  std::string log_;
  std::function<void(ResetResult)> done_;
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
