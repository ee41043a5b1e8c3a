// The minimal guest kernel: Debian's linux-source package, configured with
// `make tinyconfig` plus xrun's fragment for the arch (images/kernel/<arch>.config)
// and cross-compiled once. Cached under $XDG_CACHE_HOME/xrun/kernels/ by what
// makes it (source version, fragment, compiler), apart from the images: a
// new agent or library rebuilds the initramfs in seconds, not the kernel in
// minutes.
#pragma once

#include <functional>
#include <string>

#include "backends/system/vm_arch.h"
#include "core/expected.h"

namespace xrun {

std::string kernels_root();  // $XDG_CACHE_HOME/xrun/kernels

struct KernelSource {
  std::string package;     // "linux-source-6.1:all"
  std::string version;     // "6.1.192-2"
  std::uint64_t size = 0;  // of its .deb in bytes, when known (for the first run's notice)
};

struct BuiltKernel {
  std::string image;    // the bootable image file in the cache
  std::string release;  // "6.1.192-xrun"
  bool rebuilt = false;
};

// Where `config` would be cached, so image.cpp can record the key; "" when the
// compiler cannot be asked its version.
std::string kernel_cache_key(const VmArch& arch, const KernelSource& source, const std::string& config_text);

// make, flex, bison, bc, tar, xz and the compilers: an error that says what
// to install when one is missing, before anything is downloaded.
Expected<void> check_kernel_build_tools(const VmArch& arch);

Expected<BuiltKernel> build_minimal_kernel(const VmArch& arch, const KernelSource& source,
                                           const std::string& config_text,
                                           const std::function<void(const std::string&)>& progress);

// The `CONFIG_...` settings of a fragment that a finished .config lost
// (`=y` lines missing, `is not set` lines turned on): "" when none.
std::string lost_kernel_options(const std::string& fragment, const std::string& dot_config);

}  // namespace xrun
