#include "core/private_namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <utility>

#include "core/fs_util.h"

namespace xrun {

namespace {

bool write_text(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// "inner inner count" for each range this process can see: the new user
// namespace maps every id to itself. Without CAP_SETUID only our own id can
// be mapped (and setgroups must be denied first).
std::string identity_map(const char* own_map, unsigned own_id, bool privileged) {
  if (!privileged) return std::to_string(own_id) + " " + std::to_string(own_id) + " 1\n";
  std::istringstream lines(read_file(own_map).value_or(""));
  std::string out;
  for (unsigned long inner, outer, count; lines >> inner >> outer >> count;)
    out += std::to_string(inner) + " " + std::to_string(inner) + " " + std::to_string(count) + "\n";
  return out;
}

// One status line from the helper: "u" (namespaces made), "ok", or why it failed.
std::string read_reply(int fd) {
  std::string reply;
  char buffer[512];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
    if (reply.find('\n') != std::string::npos) break;
  }
  return reply.substr(0, reply.find('\n'));
}

bool say(int fd, std::string_view text) {
  return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

// In the helper: no allocation (the parent may have threads).
[[noreturn]] void helper_fail(int fd, const char* what) {
  char message[512];
  const int n = std::snprintf(message, sizeof message, "%s: %s\n", what, std::strerror(errno));
  (void)!::send(fd, message, static_cast<std::size_t>(std::max(0, n)), MSG_NOSIGNAL);
  _exit(1);
}

}  // namespace

Expected<PrivateNamespaces> PrivateNamespaces::make(Setup setup, const void* context) {
  const bool privileged = ::geteuid() == 0;
  const std::string uid_map = identity_map("/proc/self/uid_map", ::geteuid(), privileged);
  const std::string gid_map = identity_map("/proc/self/gid_map", ::getegid(), privileged);

  // The helper makes the namespaces; this process writes its id maps and
  // then holds the namespaces by fd, so the helper can go.
  int channel[2];  // [0] ours, [1] the helper's; a socket, so that a dead helper is an error, not SIGPIPE
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0)
    return make_error(ExitCode::InfraError, std::string("socketpair: ") + std::strerror(errno));
  const pid_t helper = ::fork();
  if (helper == 0) {
    ::close(channel[0]);
    const int fd = channel[1];
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) helper_fail(fd, "cannot make a user namespace");
    say(fd, "u\n");
    char go = 0;
    if (::read(fd, &go, 1) != 1 || go != 'm') _exit(1);  // the parent could not map our ids
    if (setup)
      if (const char* failed = setup(context)) helper_fail(fd, failed);
    say(fd, "ok\n");
    (void)!::read(fd, &go, 1);  // until the parent holds the namespaces and hangs up
    _exit(0);
  }
  ::close(channel[1]);
  PrivateNamespaces result;
  std::string why;
  if (helper < 0) {
    why = std::string("fork: ") + std::strerror(errno);
  } else if (std::string step = read_reply(channel[0]); step != "u") {
    why = step.empty() ? "the helper died" : step;
  } else {
    const std::string proc = "/proc/" + std::to_string(helper);
    const bool mapped = (privileged || write_text(proc + "/setgroups", "deny")) &&
                        write_text(proc + "/uid_map", uid_map) && write_text(proc + "/gid_map", gid_map);
    if (!mapped) why = std::string("cannot map ids into the user namespace: ") + std::strerror(errno);
    if (mapped && !say(channel[0], "m")) why = "the helper died";
    if (why.empty() && (step = read_reply(channel[0])) != "ok") why = step.empty() ? "the helper died" : step;
    if (why.empty()) {
      result.user_ns_ = ::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC);
      result.mount_ns_ = ::open((proc + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC);
      if (!result.held()) why = std::string("cannot hold the namespaces: ") + std::strerror(errno);
    }
  }
  ::close(channel[0]);  // the helper may go
  if (helper > 0)
    while (::waitpid(helper, nullptr, 0) < 0 && errno == EINTR) {
    }
  if (!why.empty()) return make_error(ExitCode::InfraError, why);
  return result;
}

PrivateNamespaces::PrivateNamespaces(PrivateNamespaces&& other) noexcept
    : user_ns_(std::exchange(other.user_ns_, -1)), mount_ns_(std::exchange(other.mount_ns_, -1)) {}

PrivateNamespaces& PrivateNamespaces::operator=(PrivateNamespaces&& other) noexcept {
  if (this != &other) {
    this->~PrivateNamespaces();
    user_ns_ = std::exchange(other.user_ns_, -1);
    mount_ns_ = std::exchange(other.mount_ns_, -1);
  }
  return *this;
}

PrivateNamespaces::~PrivateNamespaces() {
  for (int* fd : {&user_ns_, &mount_ns_})
    if (*fd >= 0) ::close(std::exchange(*fd, -1));
}

bool PrivateNamespaces::enter() const { return held() && enter(user_ns_, mount_ns_); }

bool PrivateNamespaces::enter(int user_fd, int mount_fd) {
  // Entering a mount namespace moves the cwd to its root: come back by path
  // (an fd of the old cwd would point into the other namespace's mounts,
  // where getcwd() calls it unreachable).
  char cwd[PATH_MAX];
  const bool have_cwd = ::getcwd(cwd, sizeof cwd) != nullptr;
  const bool entered = ::setns(user_fd, CLONE_NEWUSER) == 0 && ::setns(mount_fd, CLONE_NEWNS) == 0;
  if (have_cwd && ::chdir(cwd) != 0) {
  }
  return entered;
}

}  // namespace xrun
