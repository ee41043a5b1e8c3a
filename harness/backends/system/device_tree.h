// Editing the flattened device tree (DTB) that qemu's virt machine describes
// itself with, so the guest kernel only sees the devices a test VM uses.
//
// qemu's virt board always creates 32 virtio-mmio transports, a PCIe host,
// flash, fw_cfg, a GPIO controller with a power key and a platform bus. The
// kernel creates a platform device for every node, probes each virtio-mmio
// slot, and matches every driver it registers (hundreds in Debian's generic
// kernel) against every device: about 9% of the guest instructions from
// power-on to the agent's "ready", measured with -icount (docs/system-mode.md).
// xrun therefore dumps qemu's own tree once (-M virt,dumpdtb=...), removes
// the nodes nothing uses, and boots with -dtb. Removed nodes become FDT_NOP
// tokens, so no offset in the blob moves.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/expected.h"

namespace xrun {

// Replaces every node for which `drop(path)` is true ("/virtio_mmio@a000000",
// "/cpus/cpu@0"), with all it contains, by FDT_NOP tokens, and shrinks the
// blob's totalsize to what it holds. Errors: not a DTB, or a malformed one.
Expected<std::string> remove_device_tree_nodes(std::string blob, const std::function<bool(std::string_view)>& drop);

// The paths of the nodes in `blob`, parents after their children (for tests
// and diagnostics); empty when it is not a valid DTB.
std::vector<std::string> device_tree_node_paths(const std::string& blob);

// The virt machine's policy: keep CPUs, memory, interrupt controller, timer,
// PSCI, PMU, clocks, UART (console), RTC, and the `used_virtio` virtio-mmio
// transports qemu fills first (the highest addresses: hw/arm/virt.c hands
// -device virtio-*-device the last-created, highest transport first).
bool virt_node_unused(std::string_view path, const std::vector<unsigned long>& used_virtio_addresses);

// The addresses of the `count` virtio-mmio transports that qemu's devices
// occupy, among those in `blob`.
std::vector<unsigned long> highest_virtio_mmio_addresses(const std::string& blob, int count);

}  // namespace xrun
