#include "machine/host_writes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>
#include <vector>

#include "core/diagnostics.h"
#include "core/fs_util.h"

namespace xrun {

namespace {

constexpr int kMaxLinks = 40;  // the kernel's own limit on links in one lookup

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(Fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t at = 0;
  for (;;) {
    const auto slash = path.find('/', at);
    parts.emplace_back(path.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at));
    if (slash == std::string_view::npos) return parts;
    at = slash + 1;
  }
}

std::string joined(const std::vector<std::string>& parts, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
  return out;
}

// Lexically, without looking at the disk: the result is walked again with
// O_NOFOLLOW, so a `..` taken here never follows a link. False when the
// path climbs above the root.
bool normalise(std::vector<std::string>& parts) {
  std::vector<std::string> out;
  for (auto& part : parts) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (out.empty()) return false;
      out.pop_back();
    } else {
      out.push_back(std::move(part));
    }
  }
  parts = std::move(out);
  return true;
}

Error refused(const std::string& why) { return Error{ExitCode::InfraError, why}; }

}  // namespace

Expected<HostPlace> place_under(const std::string& root, const std::string& relative) {
  std::vector<std::string> parts = split(relative);
  for (const auto& part : parts)
    if (part.empty() || part == "." || part == "..") return refused("its path has an empty, `.` or `..` component");
  const std::string root_slash = root.back() == '/' ? root : root + "/";
  const std::string real_root = real_path(root),
                    real_root_slash = real_root.back() == '/' ? real_root : real_root + "/";
  Fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return refused("cannot open " + root + ": " + std::strerror(errno));
  std::size_t i = 0;
  int links = 0;
  for (;;) {
    const std::string& name = parts[i];
    const bool last = i + 1 == parts.size();
    const std::string shown = root_slash + joined(parts, i + 1);
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) return refused("cannot look at " + xrun::quoted(shown) + ": " + std::strerror(errno));
      if (last) return HostPlace{dir.release(), name, shown};
      if (::mkdirat(dir.get(), name.c_str(), 0777) != 0 && errno != EEXIST)
        return refused("cannot create " + xrun::quoted(shown) + ": " + std::strerror(errno));
    } else if (S_ISLNK(st.st_mode)) {
      // Where the link points, as a path under the root; then walked again from the root.
      if (++links > kMaxLinks) return refused("too many symbolic links on its way");
      char target[PATH_MAX];
      const ssize_t n = ::readlinkat(dir.get(), name.c_str(), target, sizeof target - 1);
      if (n < 0) return refused("cannot read the link " + xrun::quoted(shown) + ": " + std::strerror(errno));
      const std::string to(target, static_cast<std::size_t>(n));
      const std::string outside =
          xrun::quoted(shown) + " is a symbolic link to " + xrun::quoted(to) + ", outside " + root;
      std::vector<std::string> next;
      if (to.front() == '/') {
        if (to.rfind(root_slash, 0) == 0)
          next = split(to.substr(root_slash.size()));
        else if (to.rfind(real_root_slash, 0) == 0)
          next = split(to.substr(real_root_slash.size()));
        else
          return refused(outside);
      } else {
        next.assign(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(i));
        for (auto& part : split(to)) next.push_back(std::move(part));
      }
      next.insert(next.end(), parts.begin() + static_cast<std::ptrdiff_t>(i) + 1, parts.end());
      if (!normalise(next)) return refused(outside);
      if (next.empty()) return refused(xrun::quoted(shown) + " is a symbolic link to " + root + " itself");
      parts = std::move(next);
      i = 0;
      dir.reset(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (dir.get() < 0) return refused("cannot open " + root + ": " + std::strerror(errno));
      continue;
    } else if (last) {
      if (!S_ISREG(st.st_mode)) return refused(xrun::quoted(shown) + " is not a regular file on the host");
      return HostPlace{dir.release(), name, shown};
    } else if (!S_ISDIR(st.st_mode)) {
      return refused(xrun::quoted(shown) + " is not a directory on the host");
    }
    Fd next(::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (next.get() < 0)  // ELOOP, ENOTDIR: it changed under us (a link now); never followed
      return refused("cannot open " + xrun::quoted(shown) + ": " + std::strerror(errno));
    dir = std::move(next);
    ++i;
  }
}

}  // namespace xrun
