// Reading what `xrun test` left behind, for the end-to-end tests: its JSON
// report, and any process it may have left running.
#pragma once

#include <dirent.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace xrun::testing {

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Test name -> status, from a JSON report.
inline std::map<std::string, std::string> statuses(const nlohmann::json& report) {
  std::map<std::string, std::string> out;
  for (const auto& t : report["tests"]) out[t["name"].get<std::string>()] = t["status"].get<std::string>();
  return out;
}

// Waits (up to `seconds`) until the report being written at `path` has a
// result for every test named in `names` (the plan is in the file from the
// start, as not-run); returns whether it did.
inline bool wait_for_results(const std::string& path, const std::vector<std::string>& names, double seconds = 60) {
  for (auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
       std::chrono::steady_clock::now() < end; std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    std::ifstream in(path);
    const auto report = nlohmann::json::parse(in, nullptr, false);
    if (!report.is_object() || !report.contains("tests")) continue;
    const auto s = statuses(report);
    if (std::all_of(names.begin(), names.end(), [&](const std::string& n) {
          auto it = s.find(n);
          return it != s.end() && it->second != "not-run";
        }))
      return true;
  }
  return false;
}

// Processes whose command line mentions `needle` (a leftover qemu).
inline std::vector<std::string> processes_mentioning(const std::string& needle) {
  std::vector<std::string> found;
  DIR* proc = ::opendir("/proc");
  while (dirent* entry = ::readdir(proc)) {
    if (!std::isdigit(static_cast<unsigned char>(entry->d_name[0]))) continue;
    std::ifstream in(std::string("/proc/") + entry->d_name + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), {});
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(needle) != std::string::npos && cmdline.find("xrun_e2e_tests") == std::string::npos)
      found.push_back(std::string(entry->d_name) + ": " + cmdline);
  }
  ::closedir(proc);
  return found;
}

}  // namespace xrun::testing
