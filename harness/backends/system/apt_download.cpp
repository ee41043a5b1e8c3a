#include "backends/system/apt_download.h"

#include <unistd.h>

#include <filesystem>

namespace xrun {

std::vector<std::string> apt_download_command(const std::vector<std::string>& packages) {
  std::vector<std::string> argv{"apt-get", "download", "-q"};
  // As root, apt drops to its _apt user, who cannot write into root's cache.
  if (::geteuid() == 0) argv.insert(argv.end(), {"-o", "APT::Sandbox::User=root"});
  argv.insert(argv.end(), packages.begin(), packages.end());
  return argv;
}

std::string downloaded_deb(const std::string& dir, const std::string& package) {
  const std::string prefix = package.substr(0, package.find(':')) + "_";  // name_version_arch.deb
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(prefix, 0) == 0 && entry.path().extension() == ".deb") return entry.path().string();
  }
  return "";
}

}  // namespace xrun
