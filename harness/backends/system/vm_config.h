// What [targets.NAME] says of a target's VM (the system row's keys,
// row.cpp): the pieces of its image a user may bring instead of Debian's,
// and the machine's options. Kept in TargetSettings::rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "config/config.h"

namespace xrun {

struct VmConfig {
  std::optional<std::string> vm_kernel;   // "minimal" (built from Debian's source) or "debian" (its binary package)
  std::optional<std::string> kernel;      // kernel image file
  std::optional<std::string> modules;     // lib/modules/<release> directory for `kernel`
  std::optional<std::string> rootfs;      // directory tree added to the image's initramfs
  std::optional<std::string> vm_cpu;      // qemu-system -cpu
  std::optional<std::int64_t> vm_memory;  // qemu-system -m (MiB)
  std::optional<std::string> vm_append;   // more kernel command line
};

inline const VmConfig& vm_config(const TargetSettings& target) { return target.rows.get<VmConfig>(); }

}  // namespace xrun
