// VM images for system mode: a kernel plus an uncompressed cpio initramfs
// (busybox, the target's libc/libstdc++/libgcc, the kernel modules the agent
// needs, and the agent as /init), built from Debian packages and cached under
// $XDG_CACHE_HOME/xrun/images/<name>/ with a manifest.json that records the
// package versions and hashes. `xrun image build` rebuilds only when one of
// those inputs changed.
//
// The kernel is, per target (`vm_kernel`), either xrun's minimal one, built
// from Debian's linux-source package (system/kernel_build.h; the default
// where the arch has a config for it, aarch64) or Debian's own binary kernel
// package with the modules the agent needs ("aarch64-debian"; armhf's only
// one). A target's config may instead bring its own kernel (+ modules) or a
// root filesystem tree to add; such an image gets its own name
// ("aarch64-custom-<hash>") so it never shadows the stock one.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/system/vm_arch.h"
#include "backends/system/vm_config.h"
#include "core/expected.h"

namespace xrun {

struct ImageLocation {
  std::string name;  // "aarch64"
  std::string dir;
  std::string kernel;
  std::string initrd;
  std::string manifest;
  std::string snapshot_dir;  // the saved VM state a VM restores from: set by ensure_snapshot() (saved_state.h)
};

std::string images_root();  // $XDG_CACHE_HOME/xrun/images

// "minimal", "debian" or "custom" (the target brings its own kernel).
std::string kernel_flavour(const VmArch& arch, const VmConfig& settings);
ImageLocation image_location(const VmArch& arch, const VmConfig& settings);

struct ImageBuildOptions {
  bool force = false;                                // rebuild even when up to date
  std::function<void(const std::string&)> progress;  // one line per step
};

struct ImageBuildResult {
  ImageLocation location;
  bool rebuilt = false;  // false: the cached image was up to date
  std::string summary;   // "kernel 6.1.0-56-arm64, initramfs 9.1 MB, ..."
};

Expected<ImageBuildResult> build_image(const VmArch& arch, const VmConfig& settings, const ImageBuildOptions& options);

// The image a run uses; an error that says how to build it when there is none.
Expected<ImageLocation> find_built_image(const VmArch& arch, const VmConfig& settings);

struct ImageSummary {
  std::string name, arch, kernel_release, built_at, dir;
  std::uint64_t bytes = 0;
};
std::vector<ImageSummary> list_images();

// Removes the images whose name or arch is `which` ("all": every image and
// the compiled minimal kernels); returns what was removed.
Expected<std::vector<std::string>> remove_images(const std::string& which);

// Renames a kernel module's .BTF section away (see image.cpp); whether it had one.
bool hide_module_btf(std::string& module);

// The module files (relative to `modules_dir`, a lib/modules/<release> with
// a modules.dep) to load for `wanted` module names, each after everything it
// depends on. Names not found are built into the kernel: nothing to load.
Expected<std::vector<std::string>> module_load_order(const std::string& modules_dir,
                                                     const std::vector<std::string_view>& wanted);

}  // namespace xrun
