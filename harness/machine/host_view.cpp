#include "machine/host_view.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/log.h"

namespace xrun {

namespace {

const char* mount_tree(const void* context) {
  const char* root = static_cast<const char*>(context);
  // Size: directories only (the bind mounts' contents are the host's).
  if (::mount("xrun-host-view", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m") != 0)
    return "cannot mount a tmpfs for the VM's view of the host";
  return nullptr;
}

bool inside(const std::string& path, const std::string& dir) {
  return path == dir ||
         (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && (dir == "/" || path[dir.size()] == '/'));
}

// Bind flags a read-only remount must keep: in a user namespace the kernel
// refuses to clear nosuid, nodev, noexec or the atime flags that the source
// mount has (they are locked).
unsigned long locked_flags(const char* path) {
  struct statvfs st {};
  if (::statvfs(path, &st) != 0) return 0;
  unsigned long flags = 0;
  if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

}  // namespace

Expected<std::shared_ptr<HostView>> HostView::make(const std::string& root) {
  auto view = std::make_shared<HostView>();
  auto namespaces = PrivateNamespaces::make(mount_tree, root.c_str());
  if (namespaces) {
    view->root_ = root;
    view->namespaces_ = std::move(*namespaces);
    return view;
  }
  if (get_env("XRUN_VM_SHARE_HOST_ROOT").value_or("") == "1") {
    log_debug("the VM sees the whole host (XRUN_VM_SHARE_HOST_ROOT=1): {}", namespaces.error().message);
    view->root_ = "/";
    return view;
  }
  return make_error(ExitCode::CannotExecute,
                    "system mode shows a VM only the host directories its jobs need, through a mount namespace of "
                    "xrun's own, and this machine refuses one (" +
                        namespaces.error().message +
                        "): allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or "
                        "kernel.apparmor_restrict_unprivileged_userns=0), or set XRUN_VM_SHARE_HOST_ROOT=1 to "
                        "let the VM see the whole host read-write");
}

Expected<void> HostView::expose(const std::string& dir, bool writable) {
  if (whole_host()) return {};
  bool remount = false;
  for (const auto& [shown, shown_writable] : shown_) {
    if (!inside(dir, shown)) continue;
    if (shown_writable || !writable) return {};  // already reachable as asked
    if (shown == dir) remount = true;            // read-only so far: make it writable
  }
  // Everything the child touches is made here: between fork and exec (of
  // nothing) only system calls, as this process may have threads.
  const std::string target = root_ + dir;
  std::string parents = target;  // mkdir -p, one '/' at a time
  const std::size_t first = root_.size() + 1;
  // Directories already shown inside this one: the new mount covers theirs,
  // so they are mounted again on top of it, outer ones first (a job's cwd
  // stays writable when a later job shows its parent read-only).
  struct Inner {
    std::string source, target;
    bool writable;
  };
  std::vector<Inner> inner;
  for (const auto& [shown, shown_writable] : shown_)
    if (shown != dir && inside(shown, dir)) inner.push_back({shown, root_ + shown, shown_writable});
  std::sort(inner.begin(), inner.end(),
            [](const Inner& a, const Inner& b) { return a.source.size() < b.source.size(); });
  const auto show = [](const char* source, const char* at, bool bind, bool read_write) {
    if (bind && ::mount(source, at, nullptr, MS_BIND | MS_REC, nullptr) != 0) return errno;
    if (!bind || !read_write) {
      const unsigned long keep = locked_flags(at);
      if (::mount(nullptr, at, nullptr, MS_REMOUNT | MS_BIND | keep | (read_write ? 0 : MS_RDONLY), nullptr) != 0)
        return errno;
    }
    return 0;
  };
  const pid_t child = ::fork();
  if (child < 0) return make_error(ExitCode::InfraError, std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    if (!namespaces_.enter()) _exit(errno ? errno : EPERM);
    for (std::size_t at = first; at <= parents.size(); ++at) {
      if (at != parents.size() && parents[at] != '/') continue;
      parents[at] = '\0';
      if (::mkdir(parents.c_str(), 0755) != 0 && errno != EEXIST) _exit(errno);
      if (at != parents.size()) parents[at] = '/';
    }
    if (const int error = show(dir.c_str(), target.c_str(), !remount, writable)) _exit(error);
    if (!remount)
      for (const auto& i : inner)
        if (const int error = show(i.source.c_str(), i.target.c_str(), true, i.writable)) _exit(error);
    _exit(0);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const int error = WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
  if (error != 0)
    return make_error(ExitCode::InfraError,
                      "cannot show host directory " + quoted(dir) + " to the VM (" + std::strerror(error) + ")");
  shown_[dir] = writable;
  log_debug("the VM sees {} ({})", dir, writable ? "read-write" : "read-only");
  return {};
}

Expected<void> HostViewFiles::plan(const JobFiles& files, MachineJob& job) {
  RunFrame& f = job.frame;
  std::vector<std::pair<std::string, bool>> shown{{files.cwd, true}, {parent_of(files.program), false}};
  if (files.tmpdir) shown.emplace_back(*files.tmpdir, true);
  for (const auto& share : files.shares) shown.emplace_back(share, true);
  for (const auto& dir : files.host_dirs) shown.emplace_back(dir, false);
  for (const auto& dir : files.library_dirs) shown.emplace_back(dir, false);
  for (const auto& [dir, writable] : shown) {
    if (auto exposed = view_->expose(dir, writable); !exposed) return exposed.error();
    if (std::find(f.binds.begin(), f.binds.end(), dir) == f.binds.end()) f.binds.push_back(dir);
    // The agent shows these from its uncached share: appends and writes of
    // jobs in other machines are seen at once (protocol.h, RUN).
    if (writable && std::find(f.writable.begin(), f.writable.end(), dir) == f.writable.end()) f.writable.push_back(dir);
  }
  return {};
}

}  // namespace xrun
