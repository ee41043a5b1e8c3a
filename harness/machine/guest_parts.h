// The pieces of xrun that run on the target, not the host: the agent (a
// VM's /init, a board's `xrun-agent --stdio`) and its fork-server library
// (preloaded by the agent in a VM or on a board, and by qemu-user's fork
// servers), both cross-built with xrun for every architecture
// images/CMakeLists.txt lists (XRUN_AGENT_ARCHS); and the minimal kernel's
// configuration fragment, found the same way. Every backend that needs one
// finds it here.
#pragma once

#include <string>
#include <string_view>

#include "core/expected.h"

namespace xrun {

// An architecture xrun builds guest parts for.
struct GuestArch {
  std::string_view name;       // xrun's target name: "aarch64"
  std::string_view multiarch;  // its cross compiler's prefix: "aarch64-linux-gnu"
};

// nullptr when xrun builds no guest parts for `target` (an xrun target name).
const GuestArch* find_guest_arch(std::string_view target);

enum class GuestPart {
  Agent,         // xrun-agent-ARCH
  ForkServer,    // xrun-zygote-ARCH.so
  KernelConfig,  // xrun-kernel-ARCH.config
};

// The file name of `part` for `arch` ("xrun-zygote-aarch64.so").
std::string guest_part_file(const GuestArch& arch, GuestPart part);

// Where `part` is: XRUN_AGENT_DIR first, then next to the xrun executable,
// then in ../libexec/xrun (installed). The error says what builds it.
Expected<std::string> find_guest_part(const GuestArch& arch, GuestPart part);

}  // namespace xrun
