// Where the build put what the tests drive (set by tests/CMakeLists.txt).
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace xrun::testing {

inline std::string xrun_binary() { return XRUN_BINARY; }
inline std::string helper(const std::string& target, const std::string& linkage) {
  return std::string(XRUN_HELPER_DIR) + "/xrun_helper-" + target + "-" + linkage;
}
inline std::string host_helper() { return helper("x86_64", "dynamic"); }
inline std::vector<std::string> cross_targets() {
  std::vector<std::string> out;
  std::stringstream stream(XRUN_CROSS_TARGETS);
  for (std::string name; std::getline(stream, name, ',');) out.push_back(name);
  return out;
}

}  // namespace xrun::testing
