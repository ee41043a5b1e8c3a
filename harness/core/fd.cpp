#include "core/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xrun {

void Fd::reset(int fd) noexcept {
  const int old = std::exchange(fd_, fd);
  // Not retried on EINTR: Linux releases the descriptor whatever close returns.
  if (old >= 0 && old != fd) ::close(old);
}

namespace {

Error errno_error(const std::string& what) {
  return make_error(ExitCode::InfraError, what + ": " + std::strerror(errno));
}

}  // namespace

Expected<Pipe> make_pipe(int flags) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | flags) != 0) return errno_error("pipe");
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

Expected<Fd> open_fd(const std::string& path, int flags, mode_t mode) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return errno_error("cannot open " + path);
  return Fd(fd);
}

Expected<Fd> duplicate_fd(int fd, int at_least) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, at_least);
  if (copy < 0) return errno_error("dup");
  return Fd(copy);
}

}  // namespace xrun
