// Running a helper command to read its output (qemu --version, ssh's probe
// of a board, a kernel build): the one synchronous command runner. Not for
// running the user's programs: those are exec'd (launcher.h) or supervised
// by the test engine.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace xrun {

// Where a helper's stderr goes.
enum class StderrTo { Discard, Inherit, Capture };

struct CommandOptions {
  std::string input;  // written to its stdin, then EOF; "": stdin from /dev/null
  std::string cwd;    // "": ours
  // At most this long (0: no limit), then SIGKILL to its process group and
  // timed_out.
  double timeout_seconds = 0;
  // What is kept of each captured stream at most (0: no limit); a stream
  // that reaches it has the helper's group killed, and too_much.
  std::size_t max_output = 0;
  StderrTo stderr_to = StderrTo::Discard;
  // In a process group of its own (always, after stop_helpers_on_signals()).
  bool own_group = false;
};

struct CommandResult {
  bool started = false;  // false: could not be executed at all (`error` says why)
  bool timed_out = false;
  bool too_much = false;  // it printed max_output bytes on stdout or stderr
  int status = -1;        // exit status, or 128+signal
  std::string out, err;
  std::string error;
};
using CaptureResult = CommandResult;

// Runs argv (argv[0] looked up in PATH), reading its stdout (and stderr if
// captured) until both close, then reaps it; the child dies with xrun
// (PR_SET_PDEATHSIG) and gets exactly the prelude of core/child_process.h.
CommandResult run_helper(const std::vector<std::string>& argv, const CommandOptions& options);

// Runs argv (looked up in PATH) with stdin from /dev/null and stderr
// discarded; returns its stdout if it exited 0.
std::optional<std::string> capture_stdout(const std::vector<std::string>& argv);

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
