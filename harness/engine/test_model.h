// What `xrun test` works with: test cases found in binaries, and their
// results. Shared by discovery, the scheduler and the reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace xrun {

struct Backend;  // backends/backend.h

// How a binary reports its tests.
enum class TestKind { GTest, Libtest, Catch2, Doctest, Plain };
std::string_view kind_name(TestKind kind);

// Final status of one test. Infra errors are failures of the emulation, not
// of the test, and are never counted as test failures.
enum class Status { Passed, Failed, Crashed, TimedOut, Skipped, Flaky, InfraError, NotRun };
std::string_view status_name(Status status);  // "passed", "timed-out", ... (the JSON values)
std::optional<Status> status_from_name(std::string_view name);
// Failed, Crashed or TimedOut: what makes `xrun test` exit 1 and triggers retries.
bool is_test_failure(Status status);

struct TestCase {
  std::string binary;  // path to the test binary
  std::string name;    // harness name: "Suite.Name", "mod::test"; plain: the file name
  TestKind kind = TestKind::Plain;
  std::optional<std::string> skip_reason;  // listed but not to run: "disabled", "ignored"
  std::string cwd;                         // working directory; empty: xrun's own
  std::vector<std::string> env;            // extra "NAME=value" for this test
  std::vector<std::string> args;           // Plain only: arguments to the binary (ctest commands)
  const Backend* backend = nullptr;        // where its build system asked for it to run (the CTest emulator's options)
  std::vector<std::string> host_dirs;      // see JobRequest::host_dirs
};

// Orders tests by (binary, name) in maps keyed by std::pair of strings, and
// finds them by a pair of string_views: without copying the names, which a
// stop does for every test it leaves not run.
struct ByBinaryAndName {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::tie(a.first, a.second) < std::tie(b.first, b.second);
  }
};
using TestKeyView = std::pair<std::string_view, std::string_view>;

// One run of a test that was retried (TestResult::history).
struct Attempt {
  Status status = Status::NotRun;
  double duration_seconds = 0;
  std::string message;
  friend bool operator==(const Attempt&, const Attempt&) = default;
};

struct TestResult {
  std::string binary;
  std::string name;
  Status status = Status::NotRun;
  std::optional<int> exit_code;  // when the process exited
  std::optional<int> signal;     // when it was killed by a signal
  double duration_seconds = 0;   // of the last attempt
  int attempts = 0;
  std::string output;                  // stdout and stderr interleaved, bounded
  std::uint64_t output_cut_bytes = 0;  // how much of the middle was dropped
  std::string message;                 // one line: "SIGSEGV (signal 11)", "timed out after 2 s", ...
  std::string failure;                 // a failed test: its assertion as the harness printed it (harness_stream.h)
  std::string backend;                 // the row that ran it (backends/registry.h): "qemu-user", "native", ...
  std::string machine;                 // the board or VM that ran it ("" under qemu-user)
  std::string target;                  // the target it ran as ("aarch64"); "" when native
  // A retried test's attempts, first to last (the last is this result);
  // empty when it ran once.
  std::vector<Attempt> history;
  // Every field: ReportFiles re-encodes a result that differs in any.
  friend bool operator==(const TestResult&, const TestResult&) = default;
};

// "SIGSEGV" for 11; "signal 77" for numbers without a name.
std::string signal_name(int signal);

}  // namespace xrun
