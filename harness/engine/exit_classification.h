// How a test process's end is judged. The scheduler (scheduler.h) gathers
// what it knew of a unit (a test, or a shard of a binary's tests, in one
// process) when its process ended, asks these functions, and applies the
// answer: results, tests run again, tests left not run. No I/O, no state:
// each question is one table of cases in tests/unit/exit_classification_test.cpp.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/job_runner.h"
#include "engine/test_model.h"

namespace xrun {

// What the scheduler knew of a unit when its process ended (after the
// harness's last line was parsed). Tests are named by their position in the
// unit.
struct UnitEnd {
  TestKind kind = TestKind::Plain;
  std::vector<bool> reported;          // per test: it reported a result (or was judged already)
  std::optional<std::size_t> running;  // the test that had started and not reported
  bool timed_out = false;              // its timeout fired, and it was terminated
  // The test the timeout was blamed on: the one running then, else the
  // first that had not reported.
  std::optional<std::size_t> timed_out_test;
  bool cancelled = false;         // xrun stopped it (Ctrl-C, --fail-fast): its end is xrun's doing
  bool stopping = false;          // the run is stopping: nothing new starts
  bool ambiguous = false;         // HarnessStream::ambiguous(): the harness's lines cannot be trusted
  bool reported_failure = false;  // a test of it said it failed
};

// A status said of a process's end, with what a result shows of it.
struct ExitBlame {
  Status status = Status::Passed;
  std::string message;
  std::optional<int> signal;     // the signal the process died of (TestResult::signal)
  std::optional<int> exit_code;  // the status it exited with (TestResult::exit_code)
  friend bool operator==(const ExitBlame&, const ExitBlame&) = default;
};

// Every test of the unit had reported, and then its process ended in a way
// their results do not explain: a signal, a hang (its timeout), or a status
// that is not 0 when none of them failed (GoogleTest exits 1 and libtest 101
// for a failed test; a static destructor's SIGSEGV or LeakSanitizer's 23 are
// something else). Catch2's and doctest's statuses count cases besides the
// unit's (their test specs match more), so for them only a signal or a hang
// counts. Never for a plain program, a cancelled unit or an infra error.
bool ended_badly_after_reports(const UnitEnd& unit, const JobExit& exit);

// The end of a process whose tests had all reported, said of a result:
// timed out, crashed with its signal, or failed with its status; `when`
// ends the message ("after the test reported passed").
ExitBlame blame_the_exit(const JobExit& exit, bool timed_out, std::optional<double> timeout_seconds,
                         std::string_view when);

// What becomes of the tests of a unit that had not reported when its
// process ended (the blamed one apart).
enum class RestOfUnit {
  NotRun,         // the unit was cancelled or the run is stopping
  RunAgain,       // the process ended abnormally or timed out: a fresh process for them
  HarnessSkipped  // it ended well without running them: infra errors
};

// The test a process's end is blamed on, and its result.
struct BlamedTest {
  std::size_t test = 0;
  // It was running (its duration counts from its own start; else from the
  // unit's, and it never started).
  bool was_running = false;
  // What the process printed outside any test goes to it (a crash before
  // the first test started; a plain program's own output).
  bool takes_unowned_output = false;
  ExitBlame result;
  // Its machine went away under it (JobExit::machine_lost): it may run
  // again, elsewhere, once, with the rest of its unit instead of taking this
  // result. Whether it already did is the scheduler's to know.
  bool may_run_again_elsewhere = false;
  friend bool operator==(const BlamedTest&, const BlamedTest&) = default;
};

struct ExitVerdict {
  // The harness's lines could not be trusted in a unit of several tests:
  // every test that had not reported runs again, one per process, where the
  // exit status alone judges it. Nothing else of the verdict applies.
  bool rerun_each_alone = false;
  std::optional<BlamedTest> blamed;  // none: no test had to answer for the end
  RestOfUnit rest = RestOfUnit::HarnessSkipped;
  friend bool operator==(const ExitVerdict&, const ExitVerdict&) = default;
};

// Judges a unit's end. `timeout_seconds` and `stop_reason` are for the
// messages ("timed out after 2 s", "not finished: interrupted").
//   - An infra error (JobExit::infra_error: the runner says the emulator or
//     the machine failed) is the blamed test's status, unless xrun had
//     stopped the unit; the exit fields then mean nothing.
//   - A test that was running when its process ended well did not report
//     success either (exit(0) inside a test): it failed.
//   - Who is blamed: with ambiguous lines the first test; after a timeout
//     the test it fired in; else the test running; else, for an abnormal end
//     or a cancelled unit, the first test that had not reported.
ExitVerdict classify_exit(const UnitEnd& unit, const JobExit& exit, std::optional<double> timeout_seconds,
                          std::string_view stop_reason);

// After one attempt of a test, counted in `attempts` (the first is 1):
// whether it runs again (a test failure with retries left while the run
// goes on) and, when not, its final status and message (a pass after a
// failed attempt is flaky). An empty message keeps the attempt's.
struct AttemptVerdict {
  bool run_again = false;
  Status status = Status::Passed;
  std::string message;
  friend bool operator==(const AttemptVerdict&, const AttemptVerdict&) = default;
};
AttemptVerdict judge_attempt(Status status, int attempts, int retries, bool failed_before, bool stopping);

// qemu-user failing is not the program failing (launch/qemu_faults): an
// emulated job that ended abnormally while qemu printed one of its own
// failure lines (`fault_line`, the first seen) is an infra error, with this
// message. A job that ended well is its own, whatever it printed; an exit
// already judged an infra error keeps its message.
std::optional<std::string> emulator_fault(const JobExit& exit, const std::optional<std::string>& fault_line);

}  // namespace xrun
