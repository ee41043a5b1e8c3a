#include "engine/exit_classification.h"

#include <cmath>
#include <csignal>
#include <cstdio>

namespace xrun {

namespace {

std::string seconds_text(double seconds) {
  // As given, to the millisecond: "2 s", "0.5 s", "0.05 s" (one decimal
  // made --timeout 0.05 read "0.1 s").
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.3f", seconds);
  std::string text = buffer;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  if (text == "0" && seconds > 0) text = "0.001";  // a timeout below a millisecond, at least not "0"
  return text + " s";
}

std::optional<std::size_t> first_unreported(const UnitEnd& unit) {
  for (std::size_t i = 0; i < unit.reported.size(); ++i)
    if (!unit.reported[i]) return i;
  return std::nullopt;
}

std::string signal_text(int signal) { return signal_name(signal) + " (signal " + std::to_string(signal) + ")"; }

// A unit xrun stopped (UnitEnd::cancelled) was sent SIGTERM, then SIGKILL;
// any other signal is the program's own end, which came first: a libtest
// shard whose second test aborted while --fail-fast stopped it for its
// first test's failure crashed, it was not merely left unfinished.
bool ended_by_xrun(const UnitEnd& unit, const JobExit& exit) {
  return unit.cancelled && (exit.infra_error || !exit.signaled || exit.signal == SIGTERM || exit.signal == SIGKILL);
}

}  // namespace

bool ended_badly_after_reports(const UnitEnd& unit, const JobExit& exit) {
  if (unit.kind == TestKind::Plain || ended_by_xrun(unit, exit) || exit.infra_error || unit.running ||
      first_unreported(unit))
    return false;
  const bool status_counts_other_cases = unit.kind == TestKind::Catch2 || unit.kind == TestKind::Doctest;
  return unit.timed_out || exit.signaled || (exit.code != 0 && !unit.reported_failure && !status_counts_other_cases);
}

ExitBlame blame_the_exit(const JobExit& exit, bool timed_out, std::optional<double> timeout_seconds,
                         std::string_view when) {
  ExitBlame blame;
  if (timed_out) {
    blame.status = Status::TimedOut;
    blame.message = "timed out after " + seconds_text(timeout_seconds.value_or(0)) + ", " + std::string(when);
  } else if (exit.signaled) {
    blame.status = Status::Crashed;
    blame.signal = exit.signal;
    blame.message = signal_text(exit.signal) + " " + std::string(when);
  } else {
    blame.status = Status::Failed;
    blame.exit_code = exit.code;
    blame.message = "exit status " + std::to_string(exit.code) + " " + std::string(when);
  }
  return blame;
}

ExitVerdict classify_exit(const UnitEnd& unit, const JobExit& exit, std::optional<double> timeout_seconds,
                          std::string_view stop_reason) {
  ExitVerdict verdict;
  // Lines that cannot be trusted are not a verdict on the tests; when xrun
  // ended the process, or its runner failed, they are not asked to be.
  const bool ambiguous = unit.ambiguous && !unit.cancelled && !unit.timed_out && !exit.infra_error;
  if (ambiguous && unit.reported.size() > 1) {
    verdict.rerun_each_alone = true;
    return verdict;
  }
  const bool ended_inside_a_test = unit.running && unit.kind != TestKind::Plain && !ambiguous;
  const bool abnormal = exit.signaled || exit.code != 0 || exit.infra_error || ended_inside_a_test;

  std::optional<std::size_t> blamed;
  bool was_running = false;
  if (ambiguous) {
    blamed = 0;
    was_running = true;
  } else if (unit.timed_out) {
    blamed = unit.timed_out_test;
    was_running = unit.running.has_value();
  } else if (unit.running) {
    blamed = unit.running;
    was_running = true;
  } else if (abnormal || unit.cancelled) {
    blamed = first_unreported(unit);
  }

  if (blamed && *blamed < unit.reported.size() && !unit.reported[*blamed]) {
    BlamedTest test;
    test.test = *blamed;
    test.was_running = was_running;
    test.takes_unowned_output = !was_running || unit.kind == TestKind::Plain;
    test.may_run_again_elsewhere = exit.infra_error && exit.machine_lost && !unit.cancelled && !unit.stopping;
    ExitBlame& result = test.result;
    if (!exit.infra_error) {
      if (exit.signaled)
        result.signal = exit.signal;
      else
        result.exit_code = exit.code;
    }
    if (exit.infra_error && !unit.cancelled) {
      result.status = Status::InfraError;
      result.message = *exit.infra_error;
    } else if (unit.timed_out) {
      result.status = Status::TimedOut;
      result.message = "timed out after " + seconds_text(timeout_seconds.value_or(0));
    } else if (ended_by_xrun(unit, exit)) {
      result.status = Status::NotRun;
      result.message = "not finished: " + std::string(stop_reason);
    } else if (exit.signaled) {
      result.status = Status::Crashed;
      result.message = signal_text(exit.signal);
    } else if (exit.code != 0) {
      result.status = Status::Failed;
      result.message = "exit status " + std::to_string(exit.code);
    } else if (ended_inside_a_test) {
      result.status = Status::Failed;
      result.message = "the process exited with status 0 before the test reported a result";
    } else {
      result.status = Status::Passed;
    }
    verdict.blamed = std::move(test);
  }

  if (unit.cancelled || unit.stopping)
    verdict.rest = RestOfUnit::NotRun;
  else if (abnormal || unit.timed_out)
    verdict.rest = RestOfUnit::RunAgain;
  else
    verdict.rest = RestOfUnit::HarnessSkipped;
  return verdict;
}

AttemptVerdict judge_attempt(Status status, int attempts, int retries, bool failed_before, bool stopping) {
  if (is_test_failure(status) && attempts <= retries && !stopping) return {true, status, ""};
  if (status == Status::Passed && failed_before)
    return {false, Status::Flaky,
            "passed on attempt " + std::to_string(attempts) + " of " + std::to_string(retries + 1)};
  return {false, status, ""};
}

std::optional<std::string> emulator_fault(const JobExit& exit, const std::optional<std::string>& fault_line) {
  if (exit.infra_error || (!exit.signaled && exit.code == 0) || !fault_line) return std::nullopt;
  return "the emulator failed: " + *fault_line + " (" +
         (exit.signaled ? "qemu died of " + signal_name(exit.signal) : "exit status " + std::to_string(exit.code)) +
         ")";
}

}  // namespace xrun
