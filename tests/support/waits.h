// Waiting, in the end-to-end tests, for what another process does -- never
// for a fixed time. A process's end comes through a pidfd, a file's new
// bytes through inotify; `seconds` is always a failure's bound, not a wait.
// Only what no event announces (another process appearing in /proc, a
// remote board's process list over SSH) is looked at again and again, by
// wait_until.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace xrun::testing {

namespace wait_detail {

inline int milliseconds_until(std::chrono::steady_clock::time_point end) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<long long>(left.count(), 0));
}

inline std::chrono::steady_clock::time_point after(double seconds) {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

inline int pidfd_of(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace wait_detail

// A child's wait status once it has ended (reaped), or nullopt when it still
// runs after `seconds` (then it is left running: the caller decides).
inline std::optional<int> wait_for_exit(pid_t pid, double seconds) {
  int status = 0;
  const int fd = wait_detail::pidfd_of(pid);
  if (fd >= 0) {
    pollfd ended{fd, POLLIN, 0};
    const int ready = ::poll(&ended, 1, wait_detail::milliseconds_until(wait_detail::after(seconds)));
    ::close(fd);
    if (ready != 1) return std::nullopt;
  }
  while (::waitpid(pid, &status, 0) < 0) {  // at once now (or without a pidfd: no bound)
    if (errno != EINTR) return std::nullopt;
  }
  return status;
}

// Waits until `ready()` holds, checking it again each time a file in `dir`
// is written or renamed into place (inotify: no polling); false when it still
// does not after `seconds` (a failure's bound, not a wait).
template <typename Ready>
bool wait_for_files_in(const std::string& dir, Ready ready, double seconds = 60) {
  const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0 || ::inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
    if (fd >= 0) ::close(fd);
    return false;
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  bool done = ready();
  while (!done) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    pollfd changed{fd, POLLIN, 0};
    if (::poll(&changed, 1, static_cast<int>(left)) <= 0) continue;
    alignas(inotify_event) char events[4096];
    while (::read(fd, events, sizeof events) > 0) {
    }
    done = ready();
  }
  ::close(fd);
  return done;
}

// wait_for_exit(), and a child still running then is killed (the test fails
// instead of hanging): its wait status, or -1.
inline int wait_bounded(pid_t pid, double seconds) {
  if (auto status = wait_for_exit(pid, seconds)) return *status;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

// Whether the file at `path` holds `text` within `seconds`: read again each
// time a file of its directory is written (inotify), and given up at once
// when `writer` (a pid, when given) has ended without writing it.
inline bool wait_for_text(const std::string& path, const std::string& text, double seconds, pid_t writer = -1) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const auto holds = [&] {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), {}).find(text) != std::string::npos;
  };
  const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0 || ::inotify_add_watch(fd, dir.c_str(), IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
    if (fd >= 0) ::close(fd);
    return holds();
  }
  const int ended_fd = writer > 0 ? wait_detail::pidfd_of(writer) : -1;
  const auto end = wait_detail::after(seconds);
  bool found = holds();
  while (!found) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {ended_fd, POLLIN, 0}};
    const int ready = ::poll(fds, ended_fd >= 0 ? 2 : 1, wait_detail::milliseconds_until(end));
    if (ready <= 0) break;
    alignas(inotify_event) char events[4096];
    while (::read(fd, events, sizeof events) > 0) {
    }
    found = holds();
    if (fds[1].revents & POLLIN) break;  // the writer ended: what it wrote is all there will be
  }
  if (ended_fd >= 0) ::close(ended_fd);
  ::close(fd);
  return found;
}

// For a condition that no event announces: checks it every `every` until it
// holds (true) or `seconds` have passed (false).
template <typename Condition>
bool wait_until(Condition condition, double seconds, std::chrono::milliseconds every = std::chrono::milliseconds(100)) {
  const auto end = wait_detail::after(seconds);
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(every, end - std::chrono::steady_clock::now()));
  }
}

// Of these processes ("PID: what it is" lines, as processes_mentioning()
// gives), the ones still there after `seconds`: each is watched through a
// pidfd, so this returns as soon as they have all ended (a zombie has
// ended). Those left are killed, so that they do not outlive the test.
inline std::vector<std::string> still_running_after(const std::vector<std::string>& processes, double seconds) {
  std::vector<std::pair<int, std::string>> watched;  // pidfd, line
  for (const auto& line : processes) {
    const int fd = wait_detail::pidfd_of(std::stoi(line));
    if (fd >= 0) watched.emplace_back(fd, line);  // else already gone
  }
  const auto end = wait_detail::after(seconds);
  std::vector<std::string> left;
  for (const auto& [fd, line] : watched) {
    pollfd ended{fd, POLLIN, 0};
    if (::poll(&ended, 1, wait_detail::milliseconds_until(end)) != 1) {
      ::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
      left.push_back(line);
    }
    ::close(fd);
  }
  return left;
}

}  // namespace xrun::testing
