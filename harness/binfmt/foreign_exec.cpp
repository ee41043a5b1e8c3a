#include "binfmt/foreign_exec.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "binfmt/binfmt.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "core/private_namespaces.h"

namespace xrun {

namespace {

constexpr const char* kHint =
    "; foreign programs that start other foreign programs fail with \"Exec format error\" "
    "until xrun is registered with the kernel: `sudo xrun binfmt install`";

bool kernel_at_least(int major, int minor) {
  utsname u{};
  if (::uname(&u) != 0) return false;
  int have_major = 0, have_minor = 0;
  if (std::sscanf(u.release, "%d.%d", &have_major, &have_minor) != 2) return false;
  return have_major > major || (have_major == major && have_minor >= minor);
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
  return ":" + e.name + ":M:" + std::to_string(e.offset) + ":" + escaped(e.magic_hex) + ":" + escaped(e.mask_hex) +
         ":" + e.interpreter + ":" + flags;
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
    const bool ours =
        std::any_of(registrations->begin(), registrations->end(), [&](const auto& r) { return binfmt_overlaps(e, r); });
    if (e.enabled && !ours && !e.magic_hex.empty()) lines.push_back(copy_line(e));
  }
  // Inside the namespaces: a binfmt_misc of xrun's own, with xrun registered.
  struct Registration {
    std::string register_file = std::string(kBinfmtDir) + "/register";
    std::vector<std::string> lines;
  } registration{.lines = std::move(lines)};
  const auto mount_binfmt_misc = [](const void* context) -> const char* {
    const auto& r = *static_cast<const Registration*>(context);
    if (::mount("binfmt_misc", kBinfmtDir, "binfmt_misc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
      return "cannot mount a binfmt_misc of xrun's own";
    for (const auto& line : r.lines) {
      const int fd = ::open(r.register_file.c_str(), O_WRONLY | O_CLOEXEC);
      const bool taken = fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
      if (fd >= 0) ::close(fd);
      if (!taken) return "the private binfmt_misc refused a registration";
    }
    return nullptr;
  };
  auto namespaces = PrivateNamespaces::make(mount_binfmt_misc, &registration);
  if (namespaces) {
    result.how_ = ForeignExec::How::Private;
    result.namespaces_ = std::move(*namespaces);
    log_debug("foreign programs run through xrun in a binfmt_misc of its own ({} registrations)",
              registration.lines.size());
    return result;
  }
  result.why_ = namespaces.error().message + std::string(kHint);
  log_debug("no private binfmt_misc: {}", namespaces.error().message);
  return result;
}

const ForeignExec& ForeignExec::for_this_process() {
  static const ForeignExec decided = make_foreign_exec();
  return decided;
}

bool ForeignExec::enter() const { return how_ != How::Private || namespaces_.enter(); }

std::pair<int, int> ForeignExec::namespace_fds() const {
  if (how_ != How::Private || !namespaces_.held()) return {-1, -1};
  return {namespaces_.user_fd(), namespaces_.mount_fd()};
}

}  // namespace xrun
