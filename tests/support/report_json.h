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

// Waits until `ready()` holds, checking it again each time a file in `dir`
// is written or renamed into place (inotify: no polling); false when it still
// does not after `seconds` (a failure's bound, not a wait).
template <typename Ready>
bool wait_for_files_in(const std::string& dir, Ready ready, double seconds = 60) {
  const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0 || ::inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
    if (fd >= 0) ::close(fd);
    return false;
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  bool done = ready();
  while (!done) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    pollfd changed{fd, POLLIN, 0};
    if (::poll(&changed, 1, static_cast<int>(left)) <= 0) continue;
    alignas(inotify_event) char events[4096];
    while (::read(fd, events, sizeof events) > 0) {
    }
    done = ready();
  }
  ::close(fd);
  return done;
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
// after up to `seconds`: each is watched through a pidfd, so this returns as
// soon as they have all ended (a zombie has ended). Those left are killed.
inline std::vector<std::string> processes_outliving(const std::string& needle, double seconds = 10) {
  std::vector<std::pair<int, std::string>> watched;  // pidfd, line
  for (const auto& line : processes_mentioning(needle)) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, std::stoi(line), 0));
    if (fd >= 0) watched.emplace_back(fd, line);  // else already gone
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::string> left;
  for (const auto& [fd, line] : watched) {
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
    pollfd ended{fd, POLLIN, 0};
    if (::poll(&ended, 1, static_cast<int>(std::max<long long>(wait, 0))) != 1) {
      ::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
      left.push_back(line);
    }
    ::close(fd);
  }
  return left;
}

}  // namespace xrun::testing
