// Foreign programs started by foreign programs. Under qemu-user a program
// that runs another program of its architecture -- a Rust CLI test running
// env!("CARGO_BIN_EXE_app"), a test that fork+execs or posix_spawns a
// helper, system(), GoogleTest's threadsafe death tests re-running the test
// binary -- makes the host kernel execute a foreign ELF file: qemu-user
// passes execve through, and without a binfmt_misc entry the kernel answers
// "Exec format error".
//
// Which way xrun makes that work, decided once per process:
//   Host     the host's binfmt_misc already sends every foreign target
//            somewhere (`xrun binfmt install`, Debian's qemu-user-binfmt):
//            nothing to do.
//   Private  otherwise, on Linux 6.7 and later (binfmt_misc may be mounted
//            in a user namespace): a helper child makes a user namespace
//            (identity-mapped: every uid and gid the process can see keeps
//            its number) and a mount namespace, mounts a binfmt_misc of its
//            own over /proc/sys/fs/binfmt_misc, registers xrun there for
//            every foreign target (and copies the host's other magic
//            registrations), and the namespaces are kept open by fd. An
//            emulated job enters them between fork and exec; a single run
//            enters them before it execs qemu. Nothing outside them changes.
//   None     neither (an older kernel, user namespaces disabled or
//            restricted): foreign programs then fail to start their own
//            foreign programs, and `why` says what to do (`xrun binfmt install`).
//
// Inside the namespaces a process keeps its uid, gid and files, but it holds
// capabilities only in the new user namespace: root there cannot do what
// needs root over the host's own namespaces (bind ports below 1024, raw
// sockets, load modules, mount most filesystems). A global registration
// avoids the namespace altogether. docs/foreign-exec.md has the details.
#pragma once

#include <string>
#include <utility>

#include "core/private_namespaces.h"

namespace xrun {

class ForeignExec {
 public:
  enum class How { Host, Private, None };

  // Decided on first use (forks the helper for Private); later calls return
  // the same. Call it before the process has threads.
  static const ForeignExec& for_this_process();

  How how() const { return how_; }
  const std::string& why() const { return why_; }  // None: what is missing and how to fix it

  // Private: moves the calling process into the namespaces (it must be
  // single-threaded: xrun before it execs qemu, or a freshly forked child).
  // Keeps the working directory, which entering a mount namespace resets.
  // Only system calls, so it is usable between fork and exec. Returns false
  // if the kernel refused; Host and None do nothing and return true.
  bool enter() const;
  // Private: the namespaces' fds, for a process that enters them after an
  // exec (PrivateNamespaces::enter(int, int)); else -1, -1.
  std::pair<int, int> namespace_fds() const;

 private:
  How how_ = How::None;
  std::string why_;
  PrivateNamespaces namespaces_;
  friend ForeignExec make_foreign_exec();
};

}  // namespace xrun
