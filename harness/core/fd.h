// Owned descriptors: an `Fd` closes the descriptor it holds when it goes,
// so no error path can leak one. Everything xrun opens for a child (pipes,
// logs, /dev/null) is held in one until it is handed on (release()).
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>

#include "core/expected.h"

namespace xrun {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  // Gives the descriptor up without closing it (to an owner that closes it).
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  // Closes the held descriptor (if any) and holds `fd`.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read, write;
};
// pipe2(O_CLOEXEC | `flags`): both ends, or why not.
Expected<Pipe> make_pipe(int flags = 0);

// open(O_CLOEXEC | `flags`), or why not ("cannot open PATH: ...").
Expected<Fd> open_fd(const std::string& path, int flags, mode_t mode = 0);

// A close-on-exec copy of `fd` numbered `at_least` or above.
Expected<Fd> duplicate_fd(int fd, int at_least = 0);

}  // namespace xrun
