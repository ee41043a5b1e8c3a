// Running a helper command to read its output (qemu --version and the like).
// Not for running the user's programs: those are exec'd (launcher.h) or
// supervised by the test engine.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace xrun {

// Runs argv[0] (looked up in PATH) with stdin from /dev/null and stderr
// discarded; returns its stdout if it exited 0.
std::optional<std::string> capture_stdout(const std::vector<std::string>& argv);

struct CaptureResult {
  bool started = false;  // false: could not be executed at all
  int status = -1;       // exit status, or 128+signal
  std::string out;
};

// Runs argv in `cwd` (empty: ours) with stdin from /dev/null, collecting
// stdout; stderr goes to ours when `show_stderr` (cargo's progress), else nowhere.
CaptureResult run_capturing(const std::vector<std::string>& argv, const std::string& cwd, bool show_stderr);

// For commands that run long helpers (`xrun image build` compiles a kernel
// for minutes): from now on each helper runs in a process group of its own,
// and SIGINT, SIGTERM or SIGHUP to xrun stop that group (SIGTERM) instead of
// killing xrun at once. The helper then fails, the caller unwinds (removing
// its scratch files) and asks helper_interrupted() to exit with 130. No make
// or compiler outlives xrun, even when only xrun itself got the signal.
void stop_helpers_on_signals();
bool helper_interrupted();

}  // namespace xrun
