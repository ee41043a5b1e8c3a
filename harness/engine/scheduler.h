// The scheduler runs test cases on a JobRunner, `jobs` at a time, on one
// io_context driven by the run's one EventLoop (core/event_loop.h; ninja's
// SubprocessSet habit: the owner runs the loop; jobs, parsers and timers are
// passive). Listing the tests (discovery.h) is the same loop's phase before.
//
// Isolation modes:
//   process  one test per process (like ctest and nextest).
//   batch    one process runs a shard of a binary's tests; the harness's
//            streaming output (harness_stream.h) attributes each result and
//            its output to its test. A test that crashes or hangs is recorded
//            as such and the rest of the shard re-runs in a fresh process, so
//            statuses are the same as in process mode; only speed differs.
//
// Timeouts escalate: SIGTERM to the job's process group, then SIGKILL after
// the grace period. Failed, crashed and timed-out tests are retried alone up
// to `retries` times; one that passes on a retry is flaky.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/event_loop.h"
#include "core/time_source.h"
#include "engine/job_runner.h"
#include "engine/reporter.h"
#include "engine/test_model.h"
#include "engine/unit_plan.h"

namespace xrun {

struct SchedulerOptions {
  int jobs = 1;
  std::optional<double> timeout_seconds;  // per test
  double grace_seconds = 2;               // between SIGTERM and SIGKILL
  int retries = 0;
  bool fail_fast = false;
  Isolation isolation = Isolation::Batch;
  std::size_t output_head_bytes = 64 * 1024;
  std::size_t output_tail_bytes = 64 * 1024;
  std::vector<TestGroupRule> groups;
  // Every job gets a TMPDIR of its own (JobRequest::private_tmpdir), unless
  // the test's own environment sets one.
  bool private_tmpdirs = true;
  // What durations are measured with and timeouts wait on; unset: the
  // steady clock and timers on the io_context. (Tests give a clock that
  // moves only when nothing else can happen: durations are exact, and a
  // timeout takes no real time.)
  TimeSource* time = nullptr;
  // The run's one driver of the io_context (core/event_loop.h), whose
  // earlier phase listed the tests; its clock is then `time`. Unset: a loop
  // of the scheduler's own over the io_context and `time`.
  EventLoop* loop = nullptr;
};

class Scheduler {
 public:
  Scheduler(boost::asio::io_context& io, JobRunner& runner, Reporter& reporter, SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs everything and returns one result per test, in the order given,
  // then one per batch process that ended badly after all its tests had
  // reported (named kProcessExitTestName, see below).
  std::vector<TestResult> run(const std::vector<TestCase>& tests);

  // Stops the run (Ctrl-C): running jobs are terminated (then killed after the
  // grace period), nothing new starts, unfinished tests end as not-run.
  // A second call ends the run without waiting for the running jobs' ends
  // (their tests are not-run). Safe to call from an io_context handler during run().
  void interrupt();
  bool interrupted() const;
  // Set when a bug (an exception out of a handler) stopped the run: its
  // results are not a verdict on the tests.
  const std::optional<std::string>& internal_error() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The name of the result a batch process gets when it crashed, hung or
// exited with an unexplained status after every one of its tests reported
// (a static destructor's SIGSEGV, LeakSanitizer's exit status 23). Its
// binary is the test binary.
inline constexpr std::string_view kProcessExitTestName = "(process exit)";

}  // namespace xrun
