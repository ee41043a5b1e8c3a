// One conversation with xrun's agent (images/agent) over any byte stream:
// the unix socket behind a VM's virtio-serial port, the pipes of an
// `ssh BOARD xrun-agent --stdio`. Whoever owns the machine hands the session
// its file descriptors; the session speaks the protocol (agent_protocol.h):
// the HELLO handshake, jobs and their output, stdin, signals, files by
// content hash, and a watchdog that pings the agent while jobs run.
//
// When the stream breaks, the agent goes silent for too long, or close() is
// called, every job still running ends with an infra error naming why, and
// Events::closed runs once: the machine decides what that means for itself.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/expected.h"
#include "engine/job_runner.h"
#include "machine/agent_protocol.h"

namespace xrun {

class AgentSession : public std::enable_shared_from_this<AgentSession> {
 public:
  struct JobHandlers {
    std::function<void(std::string_view)> out;
    std::function<void(std::string_view)> err;  // unused with merge_stderr
    std::function<void(const JobExit&)> done;   // infra_error: the machine failed under it
    std::function<void()> started;              // the agent started it
  };
  struct Events {
    std::function<void(const std::string& release)> ready;  // HELLO_ACK: the agent's kernel release
    // Once, unless close() was called; answers the infra error the jobs
    // still running end with.
    std::function<std::string(const std::string& reason)> closed;
    std::function<void(std::string_view text)> log;  // the agent's LOG frames
  };
  struct Options {
    std::string name;  // "VM 0", "board pi4": for logs
    // No answer to a ping (or a SIGKILL that does not end its job) for this
    // long while jobs run: the machine is hung.
    double unresponsive_seconds = 10;
  };

  // Takes ownership of the descriptors (the same one twice for a socket).
  static std::shared_ptr<AgentSession> open(boost::asio::io_context& io, int read_fd, int write_fd, Options options,
                                            Events events);
  ~AgentSession();

  // Sends HELLO with `nonce`; Events::ready runs when the agent answers.
  // `send_clock`: with the host's CLOCK_REALTIME, which a VM's agent sets
  // the guest's clock from (a board's keeps its own).
  void hello(std::uint32_t nonce, bool send_clock = false);
  void run(RunFrame frame, JobHandlers handlers);
  void send_stdin(std::uint32_t job, std::string_view bytes);
  void signal(std::uint32_t job, int signal);

  // Puts `entries` in place on the machine, sending the content of those it
  // does not have yet (read from FileEntry::source). `done` gets the mirror
  // prefix the agent uses ("" for the same paths) and the bytes sent, or an
  // error (infra: the machine's filesystem refused).
  struct FilesResult {
    std::string prefix;
    std::uint64_t bytes_sent = 0;
    std::size_t files_sent = 0;
  };
  void put_files(std::vector<FileEntry> entries, std::function<void(Expected<FilesResult>)> done);

  // Brings back the regular files changed under `dirs` on the machine in
  // the last `since_ms_ago` (a board's sync_back), written at the same
  // paths on the host with the machine's permission bits (never setuid,
  // setgid or sticky) and modification time. A file whose path would lead
  // out of `dirs` on the host (a symlink there, `..`) is not written: it is
  // counted in `refused`, with the first few reasons, for one warning.
  struct PullResult {
    static constexpr std::size_t kRefusedShown = 5;
    std::size_t files = 0;
    std::uint64_t bytes = 0;
    std::vector<std::string> refused;  // "PATH": why, at most kRefusedShown
    std::size_t refused_count = 0;
  };
  void pull_files(std::vector<std::string> dirs, std::uint32_t since_ms_ago,
                  std::function<void(Expected<PullResult>)> done);

  // Ends the session: jobs end with an infra error naming `reason`;
  // Events::closed does not run.
  void close(const std::string& reason);

  bool is_open() const { return open_; }
  std::size_t jobs() const { return jobs_.size(); }

 private:
  AgentSession(boost::asio::io_context& io, int read_fd, int write_fd, Options options, Events events);
  void read_more();
  void handle(const AgentFrame& frame);
  void handle_files_ack(const AgentFrame& frame);
  void write(std::string bytes);
  void write_next();
  void fail(const std::string& reason);
  void end(const std::string& reason, bool tell);
  void arm_watchdog();

  struct FilesRequest {
    std::vector<FileEntry> entries;
    std::function<void(Expected<FilesResult>)> done;
    FilesResult result;
    bool sent_objects = false;
  };

  boost::asio::io_context& io_;
  boost::asio::posix::stream_descriptor reader_fd_, writer_fd_;
  Options options_;
  Events events_;
  bool open_ = true, ready_ = false;
  std::uint32_t nonce_ = 0;
  std::array<char, 65536> rx_buffer_{};
  AgentFrameReader reader_;
  std::deque<std::string> tx_queue_;
  bool writing_ = false;
  boost::asio::steady_timer watchdog_;
  std::chrono::steady_clock::time_point last_heard_;
  std::map<std::uint32_t, JobHandlers> jobs_;
  std::map<std::uint32_t, std::chrono::steady_clock::time_point> killed_at_;  // SIGKILL sent, no EXIT yet
  std::map<std::uint32_t, FilesRequest> files_;
  struct PullRequest {
    std::function<void(Expected<PullResult>)> done;
    PullResult result;
    std::string error;
    int fd = -1;      // the file being written, `temporary` in `dir_fd`, renamed onto `name` there
    int dir_fd = -1;  // the directory it goes to, reached without following a link out (host_writes.h)
    std::string writing, name, temporary;
    std::string skipping;           // a refused file whose remaining pieces are dropped
    std::vector<std::string> dirs;  // what was asked for: nothing else is written
  };
  std::map<std::uint32_t, PullRequest> pulls_;
  void handle_pulled(const AgentFrame& frame);
  void handle_pull_done(const AgentFrame& frame);
  static void close_pulled(PullRequest& pull);
  std::uint32_t next_files_request_ = 1;
};

}  // namespace xrun
