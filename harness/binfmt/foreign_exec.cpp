#include "binfmt/foreign_exec.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "binfmt/binfmt.h"
#include "core/fs_util.h"
#include "core/log.h"

namespace xrun {

namespace {

constexpr const char* kHint = "; foreign programs that start other foreign programs fail with \"Exec format error\" "
                              "until xrun is registered with the kernel: `sudo xrun binfmt install`";

bool kernel_at_least(int major, int minor) {
  utsname u{};
  if (::uname(&u) != 0) return false;
  int have_major = 0, have_minor = 0;
  if (std::sscanf(u.release, "%d.%d", &have_major, &have_minor) != 2) return false;
  return have_major > major || (have_major == major && have_minor >= minor);
}

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

// A host registration again, for the private binfmt_misc (so that a wine or
// jar entry keeps working inside the namespace).
std::string copy_line(const BinfmtEntry& e) {
  const auto escaped = [](const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out += "\\x" + hex.substr(i, 2);
    return out;
  };
  std::string flags;
  for (char c : e.flags)
    if (std::strchr("POCF", c)) flags += c;
  return ":" + e.name + ":M:" + std::to_string(e.offset) + ":" + escaped(e.magic_hex) + ":" + escaped(e.mask_hex) + ":" +
         e.interpreter + ":" + flags;
}

// Reads one status line from the helper: "ok", or why it failed.
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

[[noreturn]] void helper_fail(int fd, const char* what) {
  char message[512];
  const int n = std::snprintf(message, sizeof message, "%s: %s\n", what, std::strerror(errno));
  (void)!::send(fd, message, static_cast<std::size_t>(std::max(0, n)), MSG_NOSIGNAL);
  _exit(1);
}

}  // namespace

ForeignExec make_foreign_exec() {
  ForeignExec result;
  auto registrations = binfmt_registrations(TargetTable::builtin(), {});
  if (!registrations || registrations->empty()) {
    result.how_ = ForeignExec::How::Host;  // nothing here is foreign
    return result;
  }
  // Every foreign target already goes somewhere: leave it to the host.
  std::vector<BinfmtEntry> host_entries;
  if (auto entries = read_binfmt_entries(kBinfmtDir)) host_entries = std::move(*entries);
  const bool all_registered = std::all_of(registrations->begin(), registrations->end(), [&](const auto& r) {
    return std::any_of(host_entries.begin(), host_entries.end(),
                       [&](const BinfmtEntry& e) { return e.enabled && binfmt_overlaps(e, r); });
  });
  if (all_registered) {
    result.how_ = ForeignExec::How::Host;
    return result;
  }
  if (!kernel_at_least(6, 7)) {
    result.why_ = "this kernel is older than Linux 6.7, which a binfmt_misc private to xrun needs" + std::string(kHint);
    return result;
  }
  char self[PATH_MAX];
  if (::realpath("/proc/self/exe", self) == nullptr) {
    result.why_ = "cannot find xrun's own path" + std::string(kHint);
    return result;
  }
  std::vector<std::string> lines;
  for (const auto& r : *registrations) lines.push_back(binfmt_register_line(r, self));
  for (const auto& e : host_entries) {
    const bool ours = std::any_of(registrations->begin(), registrations->end(),
                                  [&](const auto& r) { return binfmt_overlaps(e, r); });
    if (e.enabled && !ours && !e.magic_hex.empty()) lines.push_back(copy_line(e));
  }
  const bool privileged = ::geteuid() == 0;
  const std::string uid_map = identity_map("/proc/self/uid_map", ::geteuid(), privileged);
  const std::string gid_map = identity_map("/proc/self/gid_map", ::getegid(), privileged);

  // The helper makes the namespaces; this process writes its id maps (only
  // the parent namespace may map more than one id) and then keeps the
  // namespaces by fd, so the helper can go.
  int channel[2];  // [0] ours, [1] the helper's; a socket, so that a dead helper is an error, not SIGPIPE
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0)
    return result.why_ = std::string("socketpair: ") + std::strerror(errno) + kHint, result;
  const auto say = [](int fd, std::string_view text) {
    return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  };
  const pid_t helper = ::fork();
  if (helper == 0) {
    ::close(channel[0]);
    const int fd = channel[1];
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) helper_fail(fd, "cannot make a user namespace");
    say(fd, "u\n");
    char go = 0;
    if (::read(fd, &go, 1) != 1 || go != 'm') _exit(1);  // the parent could not map our ids
    if (::mount("binfmt_misc", kBinfmtDir, "binfmt_misc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
      helper_fail(fd, "cannot mount a binfmt_misc of xrun's own");
    const std::string reg = std::string(kBinfmtDir) + "/register";
    for (const auto& line : lines)
      if (!write_text(reg, line)) helper_fail(fd, "the private binfmt_misc refused a registration");
    say(fd, "ok\n");
    (void)!::read(fd, &go, 1);  // until the parent holds the namespaces and hangs up
    _exit(0);
  }
  ::close(channel[1]);
  std::string why;
  if (helper < 0) {
    why = std::string("fork: ") + std::strerror(errno);
  } else if (std::string step = read_reply(channel[0]); step != "u") {
    why = step.empty() ? "the helper died" : step;
  } else {
    const std::string proc = "/proc/" + std::to_string(helper);
    const bool mapped = (privileged || write_text(proc + "/setgroups", "deny")) && write_text(proc + "/uid_map", uid_map) &&
                        write_text(proc + "/gid_map", gid_map);
    if (!mapped) why = std::string("cannot map ids into the user namespace: ") + std::strerror(errno);
    if (mapped && !say(channel[0], "m")) why = "the helper died";
    if (why.empty() && (step = read_reply(channel[0])) != "ok") why = step.empty() ? "the helper died" : step;
    if (why.empty()) {
      result.user_ns_ = ::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC);
      result.mount_ns_ = ::open((proc + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC);
      if (result.user_ns_ < 0 || result.mount_ns_ < 0) why = std::string("cannot hold the namespaces: ") + std::strerror(errno);
    }
  }
  ::close(channel[0]);  // the helper may go
  if (helper > 0)
    while (::waitpid(helper, nullptr, 0) < 0 && errno == EINTR) {
    }
  if (why.empty()) {
    result.how_ = ForeignExec::How::Private;
    log_debug("foreign programs run through xrun in a binfmt_misc of its own ({} registrations)", lines.size());
    return result;
  }
  for (int* fd : {&result.user_ns_, &result.mount_ns_})
    if (*fd >= 0) ::close(std::exchange(*fd, -1));
  result.why_ = why + std::string(kHint);
  log_debug("no private binfmt_misc: {}", why);
  return result;
}

const ForeignExec& ForeignExec::for_this_process() {
  static const ForeignExec decided = make_foreign_exec();
  return decided;
}

bool ForeignExec::enter() const {
  if (how_ != How::Private) return true;
  // Entering a mount namespace moves the cwd to its root: come back by path
  // (an fd of the old cwd would point into the other namespace's mounts,
  // where getcwd() calls it unreachable).
  char cwd[PATH_MAX];
  const bool have_cwd = ::getcwd(cwd, sizeof cwd) != nullptr;
  const bool entered = ::setns(user_ns_, CLONE_NEWUSER) == 0 && ::setns(mount_ns_, CLONE_NEWNS) == 0;
  if (have_cwd && ::chdir(cwd) != 0) {
  }
  return entered;
}

}  // namespace xrun
