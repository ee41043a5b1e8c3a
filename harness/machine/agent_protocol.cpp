#include "machine/agent_protocol.h"

namespace xrun {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}
void put_strings(std::string& out, const std::vector<std::string>& v) {
  put_u32(out, static_cast<std::uint32_t>(v.size()));
  for (const auto& s : v) put_str(out, s);
}
std::string frame(std::uint8_t type, const std::string& payload) {
  std::string out;
  put_u32(out, static_cast<std::uint32_t>(payload.size() + 1));
  out.push_back(static_cast<char>(type));
  out += payload;
  return out;
}
std::uint32_t get_u32(std::string_view s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

}  // namespace

std::string encode_hello(std::uint32_t nonce, std::optional<std::int64_t> realtime_ns) {
  std::string p;
  put_u32(p, nonce);
  if (realtime_ns) {
    const auto ns = static_cast<std::uint64_t>(*realtime_ns);
    put_u32(p, static_cast<std::uint32_t>(ns & 0xffffffffu));
    put_u32(p, static_cast<std::uint32_t>(ns >> 32));
  }
  return frame(XRUN_HELLO, p);
}

std::string encode_run(const RunFrame& run) {
  std::string p;
  put_u32(p, run.job);
  put_u32(p, run.timeout_ms);
  put_u32(p, (run.forward_stdin ? XRUN_RUN_STDIN : 0) | (run.merge_stderr ? XRUN_RUN_MERGE : 0) |
                 (run.fork_server ? XRUN_RUN_FORK_SERVER : 0) | (run.private_tmpdir ? XRUN_RUN_PRIVATE_TMPDIR : 0));
  put_str(p, run.path);
  put_str(p, run.cwd);
  put_strings(p, run.argv);
  put_strings(p, run.env);
  put_strings(p, run.binds);
  put_strings(p, run.writable);
  put_strings(p, run.server_args);
  return frame(XRUN_RUN, p);
}

std::string encode_stdin(std::uint32_t job, std::string_view bytes) {
  std::string p;
  put_u32(p, job);
  p.append(bytes);
  return frame(XRUN_STDIN, p);
}

std::string encode_signal(std::uint32_t job, int signal) {
  std::string p;
  put_u32(p, job);
  put_u32(p, static_cast<std::uint32_t>(signal));
  return frame(XRUN_SIGNAL, p);
}

namespace {
void put_u64(std::string& out, std::uint64_t v) {
  put_u32(out, static_cast<std::uint32_t>(v & 0xffffffffu));
  put_u32(out, static_cast<std::uint32_t>(v >> 32));
}
}  // namespace

std::string encode_files(std::uint32_t request, const std::vector<FileEntry>& entries) {
  std::string p;
  put_u32(p, request);
  put_u32(p, static_cast<std::uint32_t>(entries.size()));
  for (const auto& e : entries) {
    put_str(p, e.path);
    put_u32(p, e.mode);
    put_u64(p, e.size);
    put_u64(p, e.mtime_ns);
    put_str(p, e.hash);
  }
  return frame(XRUN_FILES, p);
}

std::string encode_object(std::uint32_t request, std::string_view hash, bool last, std::string_view bytes) {
  std::string p;
  put_u32(p, request);
  put_str(p, hash);
  put_u32(p, last ? 1 : 0);
  p.append(bytes);
  return frame(XRUN_OBJECT, p);
}

std::string encode_pull(std::uint32_t request, std::uint32_t since_ms_ago, const std::vector<std::string>& dirs) {
  std::string p;
  put_u32(p, request);
  put_u32(p, since_ms_ago);
  put_strings(p, dirs);
  return frame(XRUN_PULL, p);
}

std::optional<PulledPiece> decode_pulled(std::string_view data) {
  PulledPiece piece;
  if (data.size() < 4) return std::nullopt;
  const std::uint32_t n = get_u32(data, 0);
  if (data.size() - 4 < n || data.size() - 4 - n < 16) return std::nullopt;
  piece.path = std::string(data.substr(4, n));
  std::size_t at = 4 + n;
  piece.mode = get_u32(data, at);
  piece.mtime_ns = std::uint64_t{get_u32(data, at + 4)} | (std::uint64_t{get_u32(data, at + 8)} << 32);
  piece.last = get_u32(data, at + 12) != 0;
  piece.bytes = std::string(data.substr(at + 16));
  return piece;
}

std::optional<FilesAck> decode_files_ack(std::string_view data) {
  FilesAck ack;
  std::size_t at = 0;
  const auto u32 = [&](std::uint32_t& v) {
    if (data.size() - at < 4) return false;
    v = get_u32(data, at);
    at += 4;
    return true;
  };
  const auto str = [&](std::string& s) {
    std::uint32_t n = 0;
    if (!u32(n) || data.size() - at < n) return false;
    s = std::string(data.substr(at, n));
    at += n;
    return true;
  };
  std::uint32_t count = 0;
  if (!str(ack.prefix) || !u32(count) || count > (data.size() - at) / 4) return std::nullopt;
  ack.missing.resize(count);
  for (auto& index : ack.missing)
    if (!u32(index)) return std::nullopt;
  if (!str(ack.error)) return std::nullopt;
  return ack;
}

std::optional<AgentFrame> AgentFrameReader::next() {
  if (corrupt_) return std::nullopt;
  if (at_ > 0 && at_ >= buffer_.size() / 2) {
    buffer_.erase(0, at_);
    at_ = 0;
  }
  const std::string_view rest = std::string_view(buffer_).substr(at_);
  if (rest.size() < 5) return std::nullopt;
  const std::uint32_t length = get_u32(rest, 0);
  if (length == 0 || length > XRUN_AGENT_MAX_FRAME) {
    corrupt_ = true;
    return std::nullopt;
  }
  if (rest.size() < 4 + std::size_t{length}) return std::nullopt;
  const std::string_view body = rest.substr(5, length - 1);
  AgentFrame f;
  f.type = static_cast<std::uint8_t>(rest[4]);
  at_ += 4 + length;
  const auto need = [&](std::size_t n) {
    if (body.size() < n) corrupt_ = true;
    return body.size() >= n;
  };
  switch (f.type) {
    case XRUN_HELLO_ACK:
    case XRUN_STDOUT:
    case XRUN_STDERR:
      // HELLO_ACK: the nonce and the release string's length at least.
      if (!need(f.type == XRUN_HELLO_ACK ? 8 : 4)) return std::nullopt;
      f.job = get_u32(body, 0);
      f.data = std::string(body.substr(f.type == XRUN_HELLO_ACK ? 8 : 4));
      break;
    case XRUN_STARTED:
      if (!need(8)) return std::nullopt;
      f.job = get_u32(body, 0);
      f.value = get_u32(body, 4);
      break;
    case XRUN_EXIT:
      if (!need(16)) return std::nullopt;
      f.job = get_u32(body, 0);
      f.value = get_u32(body, 4);
      f.code = static_cast<std::int32_t>(get_u32(body, 8));
      f.data = std::string(body.substr(16));
      break;
    case XRUN_LOG:
      if (!need(4)) return std::nullopt;
      f.data = std::string(body.substr(4));
      break;
    case XRUN_FILES_ACK:
    case XRUN_PULLED:
    case XRUN_PULL_DONE:
      if (!need(4)) return std::nullopt;
      f.job = get_u32(body, 0);
      f.data = std::string(body.substr(4));
      break;
    default:
      break;  // unknown frames are skipped: a newer agent may say more
  }
  return f;
}

}  // namespace xrun
