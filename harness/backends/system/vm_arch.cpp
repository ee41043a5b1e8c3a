#include "backends/system/vm_arch.h"

namespace xrun {

namespace {

// virtio over MMIO ("virtio-*-device" on -M virt): no PCI enumeration at boot,
// and the transport is one module. 9p needs netfs/fscache, found by depmod.
const VmArch kArchs[] = {
    {"aarch64",
     "arm64",
     "linux-image-arm64",
     "aarch64-linux-gnu",
     "qemu-system-aarch64",
     "qemu-system-arm",
     "qemu-aarch64",
     "virt",
     "cortex-a57",
     "ttyAMA0",
     {"virtio_mmio", "virtio_console", "9pnet_virtio", "9p"},
     "linux-source",
     "arm64",
     "Image",
     "arch/arm64/boot/Image"},
    {"armhf",
     "armhf",
     "linux-image-armmp",
     "arm-linux-gnueabihf",
     "qemu-system-arm",
     "qemu-system-arm",
     "qemu-arm",
     "virt",
     "cortex-a15",
     "ttyAMA0",
     {"virtio_mmio", "virtio_console", "9pnet_virtio", "9p"},
     "",
     "",
     "",
     ""},
};

}  // namespace

const VmArch* find_vm_arch(std::string_view target) {
  for (const auto& arch : kArchs)
    if (arch.name == target) return &arch;
  return nullptr;
}

std::vector<std::string> vm_arch_names() {
  std::vector<std::string> names;
  for (const auto& arch : kArchs) names.emplace_back(arch.name);
  return names;
}

}  // namespace xrun
