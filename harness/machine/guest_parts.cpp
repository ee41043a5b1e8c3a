#include "machine/guest_parts.h"

#include <unistd.h>

#include <vector>

#include "core/fs_util.h"

namespace xrun {

namespace {

// As images/CMakeLists.txt's XRUN_AGENT_ARCHS: the two lists change together.
constexpr GuestArch kGuestArchs[] = {
    {"aarch64", "aarch64-linux-gnu"},
    {"armhf", "arm-linux-gnueabihf"},
};

}  // namespace

const GuestArch* find_guest_arch(std::string_view target) {
  for (const auto& arch : kGuestArchs)
    if (arch.name == target) return &arch;
  return nullptr;
}

std::string guest_part_file(const GuestArch& arch, GuestPart part) {
  const std::string name(arch.name);
  switch (part) {
    case GuestPart::Agent:
      return "xrun-agent-" + name;
    case GuestPart::ForkServer:
      return "xrun-zygote-" + name + ".so";
    case GuestPart::KernelConfig:
      return "xrun-kernel-" + name + ".config";
  }
  return "";
}

Expected<std::string> find_guest_part(const GuestArch& arch, GuestPart part) {
  const std::string file = guest_part_file(arch, part);
  std::vector<std::string> dirs;
  if (auto dir = get_env("XRUN_AGENT_DIR")) dirs.push_back(*dir);
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    std::string exe(self, static_cast<std::size_t>(n));
    std::string dir = exe.substr(0, exe.rfind('/'));
    dirs.push_back(dir);
    dirs.push_back(join_path(dir, "../libexec/xrun"));
  }
  for (const auto& dir : dirs)
    if (is_regular_file(join_path(dir, file))) return join_path(dir, file);
  // It is built with xrun itself (images/CMakeLists.txt): the build that
  // made this xrun did not make it, or it was copied without it.
  std::string looked;
  for (const auto& dir : dirs) looked += (looked.empty() ? "" : ", ") + dir;
  const std::string compiler = std::string(arch.multiarch) + "-gcc";
  return make_error(
      ExitCode::InfraError,
      "the guest's " + file + " is missing (looked in " + looked +
          "): it is built with xrun, by the xrun_agents target of xrun's CMake build (`cmake --build " +
          "BUILD_DIR`, or `cmake --build BUILD_DIR --target xrun_agents`); put it next to the xrun you run, "
          "or in ../libexec/xrun" +
          (find_program(compiler) ? ""
                                  : "; the build needs " + compiler + " (sudo apt-get install gcc-" +
                                        compiler.substr(0, compiler.size() - 4) + ")"));
}

}  // namespace xrun
