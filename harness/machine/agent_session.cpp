#include "machine/agent_session.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/diagnostics.h"
#include "core/log.h"
#include "machine/host_writes.h"

namespace xrun {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// Object pieces: large enough that a board's agent does one write() per
// piece, small enough that a job's frames are not held up behind a binary.
constexpr std::size_t kObjectPiece = 1u << 20;

}  // namespace

AgentSession::AgentSession(asio::io_context& io, int read_fd, int write_fd, Options options, Events events)
    : io_(io),
      reader_fd_(io, read_fd),
      writer_fd_(io, read_fd == write_fd ? ::dup(write_fd) : write_fd),
      options_(std::move(options)),
      events_(std::move(events)),
      watchdog_(io) {}

std::shared_ptr<AgentSession> AgentSession::open(asio::io_context& io, int read_fd, int write_fd, Options options,
                                                 Events events) {
  std::shared_ptr<AgentSession> session(new AgentSession(io, read_fd, write_fd, std::move(options), std::move(events)));
  session->last_heard_ = Clock::now();
  session->read_more();
  return session;
}

AgentSession::~AgentSession() {
  boost::system::error_code ignored;
  reader_fd_.close(ignored);
  writer_fd_.close(ignored);
}

void AgentSession::hello(std::uint32_t nonce, bool send_clock) {
  nonce_ = nonce;
  std::optional<std::int64_t> now;
  if (send_clock) {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    now = static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  }
  write(encode_hello(nonce, now));
}

void AgentSession::read_more() {
  reader_fd_.async_read_some(
      asio::buffer(rx_buffer_), [weak = weak_from_this(), this](const auto& error, std::size_t n) {
        auto self = weak.lock();
        if (!self || !open_) return;
        if (error) {
          fail(error == asio::error::eof ? "the agent's channel closed"
                                         : "the connection to the agent broke (" + error.message() + ")");
          return;
        }
        last_heard_ = Clock::now();
        reader_.feed(std::string_view(rx_buffer_.data(), n));
        while (auto frame = reader_.next()) {
          handle(*frame);
          if (!open_) return;
        }
        if (reader_.corrupt()) {
          fail("the agent sent a malformed frame");
          return;
        }
        read_more();
      });
}

void AgentSession::handle(const AgentFrame& frame) {
  switch (frame.type) {
    case XRUN_HELLO_ACK:
      if (!ready_ && frame.job == nonce_) {
        ready_ = true;
        arm_watchdog();
        if (events_.ready) events_.ready(frame.data);
      }
      break;
    case XRUN_STDOUT:
    case XRUN_STDERR: {
      auto it = jobs_.find(frame.job);
      if (it == jobs_.end()) break;
      auto& sink = frame.type == XRUN_STDOUT || !it->second.err ? it->second.out : it->second.err;
      if (sink) sink(frame.data);
      break;
    }
    case XRUN_STARTED: {
      auto it = jobs_.find(frame.job);
      if (it != jobs_.end() && it->second.started) it->second.started();
      break;
    }
    case XRUN_EXIT: {
      auto it = jobs_.find(frame.job);
      if (it == jobs_.end()) break;
      auto handlers = std::move(it->second);
      jobs_.erase(it);
      killed_at_.erase(frame.job);
      JobExit end;
      switch (frame.value) {
        case XRUN_EXIT_CODE:
          end = JobExit{false, frame.code, 0};
          break;
        case XRUN_EXIT_SIGNAL:
        case XRUN_EXIT_TIMEOUT:
          end = JobExit{true, 0, frame.code};
          break;
        default:
          end = JobExit{false, frame.code == ENOENT ? 127 : 126, 0};
          end.infra_error = frame.data.empty() ? "the agent could not start the program" : frame.data;
      }
      if (handlers.done) handlers.done(end);
      break;
    }
    case XRUN_FILES_ACK:
      handle_files_ack(frame);
      break;
    case XRUN_PULLED:
      handle_pulled(frame);
      break;
    case XRUN_PULL_DONE:
      handle_pull_done(frame);
      break;
    case XRUN_LOG:
      log_debug("{} agent: {}", options_.name, frame.data);
      if (events_.log) events_.log(frame.data);
      break;
    default:
      break;
  }
}

void AgentSession::arm_watchdog() {
  // While jobs run (or files go across), ping the agent each second; silence
  // for unresponsive_seconds (or a SIGKILL that never ends its job) means the
  // machine is hung: the session fails and its jobs become infra errors.
  watchdog_.expires_after(std::chrono::seconds(1));
  watchdog_.async_wait([weak = weak_from_this(), this](const auto& error) {
    auto self = weak.lock();
    if (error || !self || !open_) return;
    const auto now = Clock::now();
    const auto limit = std::chrono::milliseconds(static_cast<int>(options_.unresponsive_seconds * 1000));
    const bool busy = !jobs_.empty() || !files_.empty() || !pulls_.empty();
    if (busy && now - last_heard_ > limit) {
      fail("the machine stopped responding for " + format_seconds(options_.unresponsive_seconds) +
           " (hung, overloaded or unreachable)");
      return;
    }
    for (const auto& [job, when] : killed_at_) {
      if (now - when > limit) {
        fail("a job sent SIGKILL did not end within " + format_seconds(options_.unresponsive_seconds) +
             " (machine hung)");
        return;
      }
    }
    if (busy && tx_queue_.empty()) write(encode_hello(nonce_));  // answered with HELLO_ACK: proof of life
    arm_watchdog();
  });
}

void AgentSession::run(RunFrame frame, JobHandlers handlers) {
  if (!open_) {
    JobExit end;
    end.infra_error = "the machine is gone";
    if (handlers.done) handlers.done(end);
    return;
  }
  if (jobs_.empty()) last_heard_ = Clock::now();
  jobs_[frame.job] = std::move(handlers);
  write(encode_run(frame));
}

void AgentSession::send_stdin(std::uint32_t job, std::string_view bytes) {
  if (open_ && jobs_.count(job)) write(encode_stdin(job, bytes));
}

void AgentSession::signal(std::uint32_t job, int sig) {
  if (!open_ || !jobs_.count(job)) return;
  if (sig == SIGKILL && !killed_at_.count(job)) killed_at_[job] = Clock::now();
  write(encode_signal(job, sig));
}

void AgentSession::put_files(std::vector<FileEntry> entries, std::function<void(Expected<FilesResult>)> done) {
  if (!open_) {
    asio::post(io_, [done] { done(make_error(ExitCode::InfraError, "the machine is gone")); });
    return;
  }
  const std::uint32_t request = next_files_request_++;
  if (files_.empty() && jobs_.empty()) last_heard_ = Clock::now();
  auto& pending = files_[request];
  pending.entries = std::move(entries);
  pending.done = std::move(done);
  write(encode_files(request, pending.entries));
}

void AgentSession::handle_files_ack(const AgentFrame& frame) {
  auto it = files_.find(frame.job);
  if (it == files_.end()) return;
  auto& pending = it->second;
  const auto ack = decode_files_ack(frame.data);
  const auto finish = [&](Expected<FilesResult> result) {
    auto done = std::move(pending.done);
    files_.erase(it);
    if (done) done(std::move(result));
  };
  if (!ack) return fail("the agent sent a malformed FILES_ACK");
  pending.result.prefix = ack->prefix;
  if (!ack->error.empty()) return finish(make_error(ExitCode::InfraError, ack->error));
  if (ack->missing.empty()) return finish(pending.result);
  if (pending.sent_objects)  // sent, and still missing: the agent could not keep them
    return finish(make_error(ExitCode::InfraError, "the board did not keep the files sent to it"));
  // Each missing content once (two paths may share it), in pieces, then
  // FILES again: the agent now copies them into place.
  std::set<std::string> sent;
  for (std::uint32_t index : ack->missing) {
    if (index >= pending.entries.size()) return fail("the agent asked for a file that was not offered");
    const FileEntry& entry = pending.entries[index];
    if (!sent.insert(entry.hash).second) continue;
    std::ifstream in(entry.source, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof())
      return finish(make_error(ExitCode::InfraError, "cannot read " + entry.source + ": " + std::strerror(errno)));
    std::size_t at = 0;
    do {
      const std::size_t n = std::min(kObjectPiece, content.size() - at);
      write(encode_object(frame.job, entry.hash, at + n == content.size(), std::string_view(content).substr(at, n)));
      at += n;
    } while (at < content.size());
    pending.result.bytes_sent += content.size();
    ++pending.result.files_sent;
  }
  pending.sent_objects = true;
  write(encode_files(frame.job, pending.entries));
}

void AgentSession::pull_files(std::vector<std::string> dirs, std::uint32_t since_ms_ago,
                              std::function<void(Expected<PullResult>)> done) {
  if (!open_) {
    asio::post(io_, [done] { done(make_error(ExitCode::InfraError, "the machine is gone")); });
    return;
  }
  const std::uint32_t request = next_files_request_++;
  if (files_.empty() && pulls_.empty() && jobs_.empty()) last_heard_ = Clock::now();
  pulls_[request].done = std::move(done);
  pulls_[request].dirs = dirs;
  write(encode_pull(request, since_ms_ago, dirs));
}

void AgentSession::handle_pulled(const AgentFrame& frame) {
  auto it = pulls_.find(frame.job);
  if (it == pulls_.end()) return;
  auto& pull = it->second;
  auto piece = decode_pulled(frame.data);
  if (!piece) return fail("the agent sent a malformed PULLED frame");
  if (!pull.error.empty()) return;
  if (pull.fd >= 0 && piece->path != pull.writing) return fail("the agent sent two files back at once");
  if (pull.fd < 0 && piece->path == pull.skipping) {  // the rest of a refused file
    if (piece->last) pull.skipping.clear();
    return;
  }
  if (pull.fd < 0) {
    pull.skipping.clear();
    // A board is not trusted with the host's files: only what lies under
    // the directories asked for is written, and no host symlink leads out
    // of them (host_writes.h). What is refused is told once, after the job.
    const std::string* root = nullptr;
    for (const auto& dir : pull.dirs)
      if (piece->path.size() > dir.size() + 1 && piece->path.compare(0, dir.size(), dir) == 0 &&
          piece->path[dir.size()] == '/' && (!root || dir.size() > root->size()))
        root = &dir;
    auto place = root ? place_under(*root, piece->path.substr(root->size() + 1))
                      : Expected<HostPlace>(Error{ExitCode::InfraError, "outside the job's directories"});
    if (!place) {
      if (pull.result.refused.size() < PullResult::kRefusedShown)
        pull.result.refused.push_back(xrun::quoted(piece->path) + ": " + place.error().message);
      ++pull.result.refused_count;
      if (!piece->last) pull.skipping = piece->path;
      return;
    }
    pull.writing = piece->path;
    pull.dir_fd = place->dir_fd;
    pull.name = place->name;
    pull.temporary = place->name + ".xrun-back-" + std::to_string(::getpid());
    ::unlinkat(pull.dir_fd, pull.temporary.c_str(), 0);  // a crashed run's, never followed
    pull.fd = ::openat(pull.dir_fd, pull.temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (pull.fd < 0) {
      pull.error = "cannot write " + place->path + ": " + std::strerror(errno);
      return close_pulled(pull);
    }
  }
  if (!piece->bytes.empty() &&
      ::write(pull.fd, piece->bytes.data(), piece->bytes.size()) != static_cast<ssize_t>(piece->bytes.size()))
    pull.error = "cannot write " + pull.writing + ": " + std::strerror(errno);
  pull.result.bytes += piece->bytes.size();
  if (!piece->last) return;
  // The permission bits only: a setuid, setgid or sticky bit made on a board
  // (a test running as root there) never reaches a host file. Ownership is
  // the host user's, who writes it.
  ::fchmod(pull.fd, piece->mode & 0777);
  const struct timespec times[2] = {
      {0, UTIME_OMIT},
      {static_cast<time_t>(piece->mtime_ns / 1000000000u), static_cast<long>(piece->mtime_ns % 1000000000u)}};
  ::futimens(pull.fd, times);  // the board's time: the next run sees the file as the board has it
  ::close(pull.fd);
  pull.fd = -1;
  if (pull.error.empty() && ::renameat(pull.dir_fd, pull.temporary.c_str(), pull.dir_fd, pull.name.c_str()) != 0)
    pull.error = "cannot put " + pull.writing + " in place: " + std::strerror(errno);
  if (pull.error.empty()) ++pull.result.files;
  close_pulled(pull);
}

void AgentSession::close_pulled(PullRequest& pull) {
  if (pull.fd >= 0) {
    ::close(pull.fd);
    pull.fd = -1;
    ::unlinkat(pull.dir_fd, pull.temporary.c_str(), 0);
  } else if (!pull.error.empty() && pull.dir_fd >= 0) {
    ::unlinkat(pull.dir_fd, pull.temporary.c_str(), 0);
  }
  if (pull.dir_fd >= 0) ::close(pull.dir_fd);
  pull.dir_fd = -1;
}

void AgentSession::handle_pull_done(const AgentFrame& frame) {
  auto it = pulls_.find(frame.job);
  if (it == pulls_.end()) return;
  auto pull = std::move(it->second);
  pulls_.erase(it);
  close_pulled(pull);
  std::string error = pull.error;
  if (error.empty() && frame.data.size() >= 4) error = frame.data.substr(4);
  if (pull.done)
    pull.done(error.empty() ? Expected<PullResult>(pull.result)
                            : Expected<PullResult>(make_error(ExitCode::InfraError, error)));
}

void AgentSession::write(std::string bytes) {
  tx_queue_.push_back(std::move(bytes));
  if (!writing_) write_next();
}

void AgentSession::write_next() {
  if (tx_queue_.empty() || !open_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  asio::async_write(
      writer_fd_, asio::buffer(tx_queue_.front()), [weak = weak_from_this(), this](const auto& error, std::size_t) {
        auto self = weak.lock();
        if (!self || !open_) return;
        if (error) {
          fail("cannot write to the agent (" + error.message() + ")");
          return;
        }
        // A large transfer keeps the agent busy reading: that is not silence.
        // (Only file contents count: a ping that a hung guest's socket buffer
        // takes proves nothing.)
        if (tx_queue_.front().size() > 4 && static_cast<unsigned char>(tx_queue_.front()[4]) == XRUN_OBJECT)
          last_heard_ = Clock::now();
        tx_queue_.pop_front();
        write_next();
      });
}

void AgentSession::close(const std::string& reason) { end(reason, false); }

void AgentSession::fail(const std::string& reason) { end(reason, true); }

void AgentSession::end(const std::string& reason, bool tell) {
  if (!open_) return;
  open_ = false;
  auto self = shared_from_this();
  boost::system::error_code ignored;
  reader_fd_.close(ignored);
  writer_fd_.close(ignored);
  watchdog_.cancel();
  auto closed = std::exchange(events_.closed, nullptr);
  // The owner words the jobs' infra error (which machine, its console): it
  // hears first, and the jobs end with what it answers.
  const std::string message = tell && closed ? closed(reason) : reason;
  auto jobs = std::move(jobs_);
  jobs_.clear();
  for (auto& [id, handlers] : jobs) {
    JobExit exit;
    exit.infra_error = message;
    if (handlers.done) handlers.done(exit);
  }
  auto files = std::move(files_);
  files_.clear();
  for (auto& [id, pending] : files)
    if (pending.done) pending.done(make_error(ExitCode::InfraError, message));
  auto pulls = std::move(pulls_);
  pulls_.clear();
  for (auto& [id, pull] : pulls) {
    close_pulled(pull);
    if (pull.done) pull.done(make_error(ExitCode::InfraError, message));
  }
}

}  // namespace xrun
