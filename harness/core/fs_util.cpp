#include "core/fs_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace xrun {

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool is_regular_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::optional<std::string> find_program(std::string_view name, std::optional<std::string> path_variable) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string_view::npos) return std::string(name);
  auto path = path_variable ? path_variable : get_env("PATH");
  std::string_view dirs = path ? std::string_view(*path) : std::string_view("/usr/local/bin:/usr/bin:/bin");
  while (true) {
    const auto colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    // An empty PATH element means the current directory (POSIX).
    std::string candidate = join_path(dir.empty() ? "." : dir, name);
    if (is_regular_file(candidate) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

std::string real_path(const std::string& path) {
  char buffer[PATH_MAX];
  return ::realpath(path.c_str(), buffer) ? std::string(buffer) : path;
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

std::vector<std::string> split_path_list(std::string_view list) {
  std::vector<std::string> elements;
  for (std::size_t start = 0;;) {
    const std::size_t colon = list.find(':', start);
    elements.emplace_back(list.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (colon == std::string_view::npos) return elements;
    start = colon + 1;
  }
}

std::optional<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string content;
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return content;
}

static std::string home_directory() {
  auto home = get_env("HOME");
  return home && !home->empty() ? *home : std::string("/");
}

std::string xdg_config_home() {
  auto dir = get_env("XDG_CONFIG_HOME");
  return dir && !dir->empty() && (*dir)[0] == '/' ? *dir : join_path(home_directory(), ".config");
}

std::string xdg_cache_home() {
  auto dir = get_env("XDG_CACHE_HOME");
  return dir && !dir->empty() && (*dir)[0] == '/' ? *dir : join_path(home_directory(), ".cache");
}

std::string current_directory() {
  char buffer[PATH_MAX];
  return ::getcwd(buffer, sizeof buffer) ? std::string(buffer) : std::string();
}

std::string join_path(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  std::string out(a);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  if (out != "/") out += '/';
  out += b;
  return out;
}

std::optional<std::string> get_env(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::optional<std::string>(value) : std::nullopt;
}

namespace {

// Writes every piece, in order, a batch of iovecs at a time: a report
// written from a hundred thousand cached pieces is copied once, into the
// file, and never joined into one string first.
enum class WriteOutcome { Written, Failed /* errno says why */, Abandoned };

// With `abandon`: asked before each writev (at most IOV_MAX pieces and
// kBatchBytes).
WriteOutcome write_all_to(int fd, std::span<const std::string_view> pieces, const std::function<bool()>& abandon = {}) {
  constexpr std::size_t kBatchBytes = 512 * 1024;
  std::size_t next = 0, offset = 0;  // the first byte not yet written: pieces[next], from `offset`
  std::vector<iovec> batch;
  while (next < pieces.size()) {
    if (abandon && abandon()) return WriteOutcome::Abandoned;
    batch.clear();
    std::size_t batch_bytes = 0;
    for (std::size_t i = next; i < pieces.size() && batch.size() < IOV_MAX && batch_bytes < kBatchBytes; ++i) {
      const std::string_view piece = i == next ? pieces[i].substr(offset) : pieces[i];
      if (!piece.empty()) batch.push_back({const_cast<char*>(piece.data()), piece.size()});
      batch_bytes += piece.size();
    }
    if (batch.empty()) break;
    const ssize_t n = ::writev(fd, batch.data(), static_cast<int>(batch.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return WriteOutcome::Failed;
    auto left = static_cast<std::size_t>(n);
    while (next < pieces.size() && left >= pieces[next].size() - offset) {
      left -= pieces[next].size() - offset;
      ++next;
      offset = 0;
    }
    offset += left;
  }
  return WriteOutcome::Written;
}

}  // namespace

Expected<void> write_file_atomically(const std::string& path, std::string_view content) {
  // Never abandoned: true or an error.
  if (auto written = write_file_atomically(path, std::span<const std::string_view>(&content, 1)); !written)
    return written.error();
  return {};
}

Expected<bool> write_file_atomically(const std::string& path, std::span<const std::string_view> content,
                                     const std::function<bool()>& abandon) {
  const auto failed = [&](int err) {
    return make_error(ExitCode::InfraError, path + ": cannot write: " + std::strerror(err));
  };
  // Not a file to replace (a FIFO, /dev/stdout, a terminal): write to it
  // as it is. Renaming over it would replace the device node.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return failed(errno);
    const bool written = write_all_to(fd, content) == WriteOutcome::Written;
    const int err = errno;
    ::close(fd);
    return written ? Expected<bool>(true) : failed(err);
  }
  // The temporary is made here, never opened through something another user
  // put at that name (a symlink would make xrun write where it points).
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {
    // Left by a process of ours with the same pid that was killed; only
    // our own regular file is removed, a symlink or another user's is not.
    struct stat old {};
    if (::lstat(temporary.c_str(), &old) == 0 && S_ISREG(old.st_mode) && old.st_uid == ::geteuid()) {
      ::unlink(temporary.c_str());
      fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    } else {
      errno = EEXIST;
    }
  }
  if (fd < 0) return failed(errno);
  const WriteOutcome outcome = write_all_to(fd, content, abandon);
  int err = errno;
  const bool closed = ::close(fd) == 0;
  if (!closed) err = errno;
  if (outcome == WriteOutcome::Abandoned) {
    ::unlink(temporary.c_str());
    return false;
  }
  const bool written = outcome == WriteOutcome::Written;
  if (!written || !closed || std::rename(temporary.c_str(), path.c_str()) != 0) {
    if (written && closed) err = errno;
    ::unlink(temporary.c_str());
    return failed(err);
  }
  return true;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  if (!path.empty()) std::filesystem::remove_all(path, ec);
}

Expected<std::string> make_run_dir(const std::string& base, std::string_view prefix, std::string_view marker) {
  std::string tmpl = join_path(base, std::string(prefix) + std::to_string(::getpid()) + "-XXXXXX");
  if (!::mkdtemp(tmpl.data()))
    return make_error(ExitCode::InfraError, "cannot create a directory in " + base + ": " + std::strerror(errno));
  std::error_code ec;
  std::filesystem::create_directory(join_path(tmpl, std::string(marker)), ec);  // ours, for the stale check
  return tmpl;
}

void remove_stale_run_dirs(const std::string& base, std::string_view prefix, std::string_view marker) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    // <pid>-XXXXXX
    const std::string rest = name.substr(prefix.size());
    const auto dash = rest.find('-');
    if (dash == std::string::npos || dash == 0 || rest.find_first_not_of("0123456789") != dash ||
        rest.size() != dash + 7)
      continue;
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid() ||
        !fs::is_directory(entry.path() / marker, ec))
      continue;
    const pid_t owner = static_cast<pid_t>(std::atol(rest.substr(0, dash).c_str()));
    if (owner > 0 && ::kill(owner, 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace xrun
