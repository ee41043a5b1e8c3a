// Choosing where a dynamic program's loader and libc come from, so that they
// always come from ONE build of glibc.
//
// Why this exists: `qemu-aarch64 -L /usr/aarch64-linux-gnu prog` hangs forever
// in pthread_create once the host also has the multiarch libc6:arm64. qemu's
// -L redirects a path only when the file exists under the prefix; the cross
// ld.so looks for libc in /lib/aarch64-linux-gnu/, which a Debian cross
// sysroot does not have (its libraries are in /usr/aarch64-linux-gnu/lib), so
// qemu falls back to the host's multiarch libc.so.6 -- a different glibc build
// than the cross ld.so. (docs/measured.md, "The -L hang".)
//
// The fix keeps qemu's -L but points it at a small overlay directory that
// gives the cross sysroot the layout the loader expects:
//   <overlay>/lib/<multiarch>   -> <sysroot>/lib        libc and friends
//   <overlay><interpreter>      -> the sysroot's loader  e.g. /lib/ld-linux-aarch64.so.1
//   <overlay>/etc/ld.so.cache      empty: the host cache may name multiarch libcs
// Everything else falls through to the host, as with plain -L. Unlike running
// ld.so explicitly, this keeps argv[0], AT_EXECFN and /proc/self/exe the
// program's own.
#pragma once

#include <optional>
#include <string>

#include "config/config.h"
#include "core/expected.h"
#include "probe/elf_probe.h"
#include "target/target_table.h"

namespace xrun {

enum class SysrootLayout {
  Cross,   // Debian cross layout, libraries in <sysroot>/lib: run through an overlay
  Rootfs,  // a target root filesystem with /lib/<multiarch>: -L <sysroot> as is
  Host,    // the host's multiarch libraries (libc6:arm64 ...): no -L at all
};

struct SysrootChoice {
  SysrootLayout layout = SysrootLayout::Host;
  std::string sysroot;      // the directory the libraries come from ("/" for Host)
  std::string qemu_prefix;  // the value for qemu's -L; empty for Host
};

// Where overlays are kept: $XDG_CACHE_HOME/xrun/sysroots, or a per-user
// directory under /tmp when the cache is not writable.
class OverlayStore {
 public:
  explicit OverlayStore(std::string base_dir) : base_dir_(std::move(base_dir)) {}
  // $XDG_CACHE_HOME/xrun/sysroots, or when that cannot be written
  // /tmp/xrun-<uid>/sysroots -- which is used only if xrun made it: a
  // directory of this user's, mode 0700, not a symlink (another user could
  // have put one there with a loader cache of their choosing).
  static OverlayStore from_environment();

  // Creates (or reuses) the overlay for `sysroot`, adding the link for
  // `interpreter` if it is missing. Safe against concurrent xrun processes:
  // every link is made under a temporary name and renamed into place.
  Expected<std::string> ensure(const TargetSpec& spec, const std::string& sysroot,
                               const std::string& interpreter) const;

 private:
  std::string base_dir_;
  std::optional<std::string> unusable_;  // why base_dir_ cannot be trusted
};

// Picks the sysroot for a dynamic program: the configured one (an error if it
// is unusable), else the first usable one from the target table, else the
// host's multiarch libraries. The error says what to install or configure.
Expected<SysrootChoice> choose_sysroot(const TargetSpec& spec, const TargetSettings& settings, const ElfInfo& elf,
                                       const OverlayStore& overlays);

// Where the loader file `interpreter` is found inside `sysroot` (Debian cross
// sysroots keep it in lib/ or lib64/ rather than at its absolute path).
std::string find_interpreter_in(const std::string& sysroot, const std::string& interpreter);

}  // namespace xrun
