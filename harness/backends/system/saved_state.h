// A VM's saved state: made once per image, qemu build and machine options
// by booting, waiting for the agent and migrating the device state to a file
// while the RAM stays in a shared memory-backend file; a VM then starts by
// restoring it (~0.15 s instead of a ~1.7 s boot, docs/system-mode.md).
// Nothing is mounted over 9p before that moment (a mounted share blocks
// migration); the agent mounts on the first job that needs host files.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "backends/system/vm_command_line.h"
#include "core/expected.h"
#include "core/time_source.h"

namespace xrun {

// Making a saved state, under way on the loop.
class StateSaving {
 public:
  virtual ~StateSaving() = default;
  // Ends it now (its qemu killed, its directory removed); `done` is not called.
  virtual void cancel() = 0;
};

// The saved state of settings.image, made if missing or stale (a different
// qemu binary, image or machine options), asynchronously on `io`: qemu boots,
// its agent answers, the state is migrated; each step is a handler on the
// loop, QMP's included (qmp.h), and the deadlines are on `time` (which must
// outlive it). `done` runs on `io`, never inside this call: with the state's
// directory, or an Error meaning no usable saved state (callers cold-boot).
std::shared_ptr<StateSaving> ensure_snapshot(boost::asio::io_context& io, TimeSource& time, const VmSettings& settings,
                                             std::function<void(Expected<std::string>)> done);
// The saved state a VM with these settings restores from, if it was made
// (its directory: <image>/snapshot-<key>, holding `state` and `key`).
std::optional<std::string> find_saved_state(const VmSettings& settings);

}  // namespace xrun
