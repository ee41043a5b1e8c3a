// Runs a command for a test and collects what it did: exit status or signal,
// stdout and stderr separately. A timeout kills the whole process group so a
// hang fails the test instead of hanging the suite.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace xrun::testing {

struct RunOptions {
  std::optional<std::string> cwd;
  // Replaces the environment entirely when set ("NAME=value" entries).
  std::optional<std::vector<std::string>> env;
  std::string stdin_data;
  double timeout_seconds = 60;
};

struct RunResult {
  bool exited = false;
  int exit_code = -1;  // when exited
  int signal = 0;      // when killed by a signal
  bool timed_out = false;
  std::string out;
  std::string err;
};

RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

// The current environment with changes: "NAME=value" sets, "NAME" alone removes.
std::vector<std::string> environment_with(const std::vector<std::string>& changes);

std::string describe(const RunResult& result);  // for assertion messages

}  // namespace xrun::testing
