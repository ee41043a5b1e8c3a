// What system mode needs to know about a target architecture: where its
// kernel and libraries come from in Debian, which qemu-system machine runs
// it, and which kernel modules the guest agent needs (their dependencies are
// computed from the kernel package at image build time, see image.cpp), or
// how to build xrun's minimal kernel from Debian's source (kernel_build.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace xrun {

struct VmArch {
  std::string_view name;                  // xrun's target name: "aarch64"
  std::string_view debian_arch;           // "arm64"
  std::string_view kernel_package;        // metapackage naming the current kernel
  std::string_view multiarch;             // "aarch64-linux-gnu"
  std::string_view qemu_system;           // "qemu-system-aarch64"
  std::string_view qemu_package;          // Debian package holding it
  std::string_view qemu_user;             // "qemu-aarch64": lists busybox's applets at build time
  std::string_view machine;               // -M
  std::string_view cpu;                   // -cpu: cortex-a57 boots ~4 s faster than max (docs/measured.md)
  std::string_view console;               // kernel console device
  std::vector<std::string_view> modules;  // what the agent needs; dependencies are added
  // The minimal kernel (system/kernel_build.h), built from this source
  // metapackage with images/kernel/<name>.config; empty: Debian's kernel only.
  std::string_view kernel_source_package;  // "linux-source"
  std::string_view kernel_make_arch;       // make ARCH=: "arm64"
  std::string_view kernel_image_target;    // make target: "Image"
  std::string_view kernel_image;           // what it makes: "arch/arm64/boot/Image"
};

// nullptr when `target` (an xrun target name) has no system-mode support.
const VmArch* find_vm_arch(std::string_view target);
std::vector<std::string> vm_arch_names();

}  // namespace xrun
