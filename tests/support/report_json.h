// Reading what `xrun test` left behind, for the end-to-end tests: its JSON
// report, and any process it may have left running.
#pragma once

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/waits.h"

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
// start, as not-run); returns whether it did. Each rewrite renames a new
// file into place (report/report_files.h): it is read again at each one.
inline bool wait_for_results(const std::string& path, const std::vector<std::string>& names, double seconds = 60) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  return wait_for_files_in(
      dir,
      [&] {
        std::ifstream in(path);
        const auto report = nlohmann::json::parse(in, nullptr, false);
        if (!report.is_object() || !report.contains("tests")) return false;
        const auto s = statuses(report);
        return std::all_of(names.begin(), names.end(), [&](const std::string& n) {
          auto it = s.find(n);
          return it != s.end() && it->second != "not-run";
        });
      },
      seconds);
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

// The processes of processes_mentioning(`needle`) that are still there
// after up to `seconds` (killed then): see still_running_after().
inline std::vector<std::string> processes_outliving(const std::string& needle, double seconds = 10) {
  return still_running_after(processes_mentioning(needle), seconds);
}

}  // namespace xrun::testing
