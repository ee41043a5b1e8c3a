// The qemu-user settings a user configures (`cpu`, `qemu_args`), checked
// against the qemu that will run them before anything runs: a CPU qemu does
// not have, or an option it refuses, is a configuration error (exit 2) that
// names the key and, for a CPU, the ones qemu has -- not qemu's own message
// and status 1 mixed into the program's.
//
// qemu is asked once (`-cpu help`; the arguments followed by `-version`,
// which qemu parses in order and then exits) and the answer is cached by
// the qemu build (path, size, modification time) and the values, in
// $XDG_CACHE_HOME/xrun/qemu-checks: a launch with a checked configuration
// reads one small file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/expected.h"

namespace xrun {

// `target` names the key in messages ("targets.aarch64.cpu").
Expected<void> check_qemu_settings(const std::string& qemu, const std::string& target,
                                   const std::optional<std::string>& cpu,
                                   const std::optional<std::vector<std::string>>& qemu_args);

// The models of `qemu -cpu help` output (exposed for unit tests).
std::vector<std::string> parse_cpu_models(const std::string& help);

}  // namespace xrun
