// A VM's saved state: made once per image, qemu build and machine options
// by booting, waiting for the agent and migrating the device state to a file
// while the RAM stays in a shared memory-backend file; a VM then starts by
// restoring it (~0.15 s instead of a ~1.7 s boot, docs/system-mode.md).
// Nothing is mounted over 9p before that moment (a mounted share blocks
// migration); the agent mounts on the first job that needs host files.
#pragma once

#include <optional>
#include <string>

#include "backends/system/vm_command_line.h"
#include "core/expected.h"

namespace xrun {

// The saved state of settings.image, made now if missing or stale (a
// different qemu binary, image or machine options). An Error means no usable
// saved state: callers cold-boot.
Expected<std::string> ensure_snapshot(const VmSettings& settings);
// The saved state a VM with these settings restores from, if it was made
// (its directory: <image>/snapshot-<key>, holding `state` and `key`).
std::optional<std::string> find_saved_state(const VmSettings& settings);

}  // namespace xrun
