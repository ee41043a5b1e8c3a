// The host view, the file strategy (machine_files.h) of machines on this
// host (system mode's VMs): what a machine may see of the host, the
// directory tree its 9p device exports.
//
// Not the host's `/`: a tmpfs of xrun's own, mounted over an empty directory
// of the run's work directory inside private namespaces
// (core/private_namespaces.h), so nothing outside xrun changes. It starts
// empty; before a job runs, each host directory the job needs is bind-mounted
// into it at its own absolute path -- the job's cwd and the configured
// `shares` writable, the program's directory and the other directories xrun
// adds for a job (Cargo's target directory) read-only -- and the guest agent
// bind-mounts the same paths from its 9p mount. Everything else on the host
// is out of the guest's reach, whoever runs xrun.
//
// qemu-system runs inside the namespaces (enter() between fork and exec), so
// a mount made later, for a later job, is seen by the VMs already running.
// Where the namespaces cannot be made (user namespaces disabled or
// restricted), system mode stops with an error naming the cause, unless
// XRUN_VM_SHARE_HOST_ROOT=1 asks for the old, documented behaviour: the whole
// host exported, read-write.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/expected.h"
#include "core/private_namespaces.h"
#include "machine/machine_files.h"

namespace xrun {

class HostView {
 public:
  // The tree at `root`, an empty directory xrun made (mode 0700).
  static Expected<std::shared_ptr<HostView>> make(const std::string& root);

  // What qemu's -fsdev exports: the tree, or "/" for the whole host.
  const std::string& root() const { return root_; }
  bool whole_host() const { return !namespaces_.held(); }

  // Shows the host directory `dir` (absolute, symlinks resolved) at the same
  // path in the tree; read-only unless `writable`. Idempotent; a directory
  // inside one already shown (writable, or read-only and asked read-only)
  // needs nothing more, and one shown read-only becomes writable when a later
  // job needs it so.
  Expected<void> expose(const std::string& dir, bool writable);

  // Moves the calling process (a forked child about to exec qemu) into the
  // namespaces where the tree is mounted. System calls only.
  bool enter() const { return whole_host() || namespaces_.enter(); }

 private:
  std::string root_;
  PrivateNamespaces namespaces_;
  std::map<std::string, bool> shown_;  // dir -> writable
};

// The host view as a fleet's file strategy: before a job is queued, the
// directories it needs are shown (writable: its cwd, a TMPDIR from the host,
// the shares; read-only: the program's directory, the directories xrun adds
// for it, its build tree's libraries) and named in its frame, whose agent
// bind-mounts them from its 9p mount at the same paths.
class HostViewFiles final : public MachineFiles {
 public:
  explicit HostViewFiles(std::shared_ptr<HostView> view) : view_(std::move(view)) {}
  Expected<void> plan(const JobFiles& files, MachineJob& job) override;

 private:
  std::shared_ptr<HostView> view_;
};

}  // namespace xrun
