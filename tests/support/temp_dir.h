// A directory that exists for the lifetime of the object (ninja's ScopedTempDir).
#pragma once

#include <string>

namespace xrun::testing {

class TempDir {
 public:
  // Under `base` (created if missing), or the system's temporary directory.
  explicit TempDir(const std::string& base = "");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `content` to path()/name (creating parent directories) and returns the full path.
  std::string write(const std::string& name, const std::string& content, bool executable = false) const;

 private:
  std::string path_;
};

}  // namespace xrun::testing
