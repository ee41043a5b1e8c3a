// A user namespace and a mount namespace of xrun's own, held open by fd.
//
// Two parts of xrun change what a process sees of the file system without
// touching the host: the binfmt_misc private to xrun (binfmt/foreign_exec.h)
// and the directory tree a VM's 9p device exports (machine/host_view.h).
// Both need mounts, which an unprivileged user may make only in a mount
// namespace owned by a user namespace of its own. Making one takes a helper
// child (unshare() needs a single-threaded caller, and only the parent
// namespace may map more than one id); once the helper has set the
// namespaces up, this process holds them by fd and the helper goes. The
// namespaces live as long as those fds or a process inside them.
//
// Ids are identity-mapped: as root every uid and gid keeps its number; as
// another user only its own uid and gid are mapped (other owners then show as
// the overflow id, 65534). A process inside holds capabilities only in the
// new user namespace.
#pragma once

#include <string>

#include "core/expected.h"

namespace xrun {

class PrivateNamespaces {
 public:
  // What the helper does inside the new namespaces once its ids are mapped
  // (mounts, mostly). It runs in a forked child of a process that may have
  // threads: system calls only, no allocation. Returns nullptr, or what
  // failed (a static string; the helper adds errno's text).
  using Setup = const char* (*)(const void* context);

  // Fails with why (unshare refused: user namespaces disabled or
  // restricted; the id maps refused; setup failed).
  static Expected<PrivateNamespaces> make(Setup setup, const void* context);

  PrivateNamespaces() = default;
  PrivateNamespaces(PrivateNamespaces&& other) noexcept;
  PrivateNamespaces& operator=(PrivateNamespaces&& other) noexcept;
  PrivateNamespaces(const PrivateNamespaces&) = delete;
  PrivateNamespaces& operator=(const PrivateNamespaces&) = delete;
  ~PrivateNamespaces();

  bool held() const { return user_ns_ >= 0 && mount_ns_ >= 0; }

  // Moves the calling process into the namespaces. It must be single-threaded
  // (a freshly forked child, or xrun just before it execs). Keeps the working
  // directory, which entering a mount namespace resets. System calls only:
  // usable between fork and exec. False if the kernel refused.
  bool enter() const;
  // The same, by the namespaces' fds (user_fd(), mount_fd()) in a process
  // that inherited them: a program xrun execs instead of forking.
  static bool enter(int user_fd, int mount_fd);
  int user_fd() const { return user_ns_; }
  int mount_fd() const { return mount_ns_; }

 private:
  int user_ns_ = -1, mount_ns_ = -1;
};

}  // namespace xrun
