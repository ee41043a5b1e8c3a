#include "support/temp_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace xrun::testing {

TempDir::TempDir(const std::string& base) {
  if (!base.empty()) std::filesystem::create_directories(base);
  std::string pattern =
      ((base.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(base)) / "xrun-test-XXXXXX")
          .string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ignored);
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string& name, const std::string& content, bool executable) const {
  const std::filesystem::path full = std::filesystem::path(path_) / name;
  std::filesystem::create_directories(full.parent_path());
  std::ofstream(full, std::ios::binary) << content;
  if (executable) ::chmod(full.c_str(), 0755);
  return full.string();
}

}  // namespace xrun::testing
