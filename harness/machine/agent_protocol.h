// The host's half of the agent protocol (images/agent/protocol.h): encoding
// requests and decoding the agent's frames. No I/O here, so it is unit-tested
// on its own; machine/agent_session moves the bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../../images/agent/protocol.h"

namespace xrun {

struct RunFrame {
  std::uint32_t job = 0;
  std::uint32_t timeout_ms = 0;  // the agent's own deadline; 0: none
  bool forward_stdin = false;
  bool merge_stderr = false;
  bool fork_server = false;     // a dynamic program the agent may fork from a started copy
  bool private_tmpdir = false;  // TMPDIR: a fresh directory in the guest's /tmp, removed after the job
  std::string path;             // what the guest executes
  std::string cwd;
  std::vector<std::string> argv, env, binds;
  // Of `binds`, those the job may write: the agent shows them from an
  // uncached share, so VMs writing one file see each other's writes.
  std::vector<std::string> writable;
  // With fork_server: what the started copy gets after argv[0] (the
  // request's JobRequest::fork_server_args), room for each child's arguments.
  std::vector<std::string> server_args;
};

// `realtime_ns`: the host's clock, for the agent of a VM to set the guest's
// from (protocol.h); only in the first HELLO of a session.
std::string encode_hello(std::uint32_t nonce, std::optional<std::int64_t> realtime_ns = std::nullopt);
std::string encode_run(const RunFrame& run);
std::string encode_stdin(std::uint32_t job, std::string_view bytes);  // empty: end of input
std::string encode_signal(std::uint32_t job, int signal);

// A file (or directory) a job needs on a machine with its own filesystem.
struct FileEntry {
  std::string path;        // where it goes on the board (absolute; the mirror prefix is the agent's)
  std::string source;      // where its bytes are on the host (files only)
  std::uint32_t mode = 0;  // st_mode: S_IFREG or S_IFDIR, and permissions
  std::uint64_t size = 0;
  std::uint64_t mtime_ns = 0;
  std::string hash;  // content hash (files only)
};
std::string encode_files(std::uint32_t request, const std::vector<FileEntry>& entries);
std::string encode_object(std::uint32_t request, std::string_view hash, bool last, std::string_view bytes);
std::string encode_pull(std::uint32_t request, std::uint32_t since_ms_ago, const std::vector<std::string>& dirs);

// PULLED, decoded from an AgentFrame's data.
struct PulledPiece {
  std::string path;
  std::uint32_t mode = 0;
  std::uint64_t mtime_ns = 0;
  bool last = false;
  std::string bytes;
};
std::optional<PulledPiece> decode_pulled(std::string_view data);

// FILES_ACK, decoded from an AgentFrame's data.
struct FilesAck {
  std::string prefix;                  // "" or where the agent mirrors paths
  std::vector<std::uint32_t> missing;  // indexes of the entries whose content it needs
  std::string error;
};
std::optional<FilesAck> decode_files_ack(std::string_view data);

struct AgentFrame {
  std::uint8_t type = 0;
  std::uint32_t job = 0;    // STARTED, STDOUT, STDERR, EXIT; the nonce for HELLO_ACK; FILES_ACK's request
  std::uint32_t value = 0;  // STARTED: pid; EXIT: how
  std::int32_t code = 0;    // EXIT: status, signal or errno
  std::string data;         // STDOUT/STDERR bytes; EXIT message; LOG text; HELLO_ACK release; FILES_ACK's rest
};

// Accumulates bytes from the agent and yields whole frames.
class AgentFrameReader {
 public:
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete frame; nullopt when more bytes are needed. Sets
  // `corrupt` (and stops) on a frame that cannot be right.
  std::optional<AgentFrame> next();
  bool corrupt() const { return corrupt_; }

 private:
  std::string buffer_;
  std::size_t at_ = 0;
  bool corrupt_ = false;
};

}  // namespace xrun
