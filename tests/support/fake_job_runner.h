// A JobRunner for scheduler tests: plays a scripted GoogleTest binary on the
// scheduler's own io_context. It reads --gtest_filter, prints real gtest
// lines for each selected test with a small delay, and behaves per test as
// told: pass, fail, skip, crash (dies of a signal), hang (until signalled),
// exit (the process exits with a code mid-test), or flaky (fails first).
// Its delays are timers of the TimeSource it is given: a ManualTime
// (manual_time.h) in the scheduler's tests, real time where none is.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/event_loop.h"
#include "core/time_source.h"
#include "engine/job_runner.h"

namespace xrun::testing {

// Exit0: the process exits 0 in the middle of the test (exit(0) in a test).
// EchoNext: passes, after printing a nested gtest run that "passes" the next
// test of the shard. EchoSelf: fails, after printing a nested gtest run that
// "passes" this very test.
// StderrMidLine: passes, after writing to stderr without a newline just
// before its result line (an unbuffered write to stderr): with one pipe for
// both streams the result line would not start a line.
enum class Behaviour {
  Pass,
  Fail,
  Skip,
  Crash,
  Hang,
  HangIgnoringTerm,
  Exit3,
  Exit0,
  FlakyOnce,
  InfraCrash,
  EchoNext,
  EchoSelf,
  StderrMidLine
};

class FakeJobRunner final : public JobRunner {
 public:
  FakeJobRunner(boost::asio::io_context& io, TimeSource& time) : io_(io), time_(time) {}
  explicit FakeJobRunner(boost::asio::io_context& io) : io_(io), own_time_(steady_time(io)), time_(*own_time_) {}
  ~FakeJobRunner() override;

  std::map<std::string, Behaviour> behaviour;  // by test name; default Pass
  std::set<std::string> unstartable;           // binaries whose start fails (infra)
  std::set<std::string> hanging;               // binaries whose every run hangs until signalled
  // Binaries whose jobs end (an infra error) inside start(), before it
  // returns: what JobRunner forbids, and a machine pool with no machine
  // left did (issue 25).
  std::set<std::string> ending_inside_start;
  // Binaries whose jobs never end, whatever they are sent (a runner that
  // lost track of them).
  std::set<std::string> never_ending;
  // Binaries whose process, after its tests all reported, ends like this
  // instead of with the harness's status (a crash in a static destructor,
  // LeakSanitizer's exit status); `hang` there: it hangs until signalled.
  std::map<std::string, JobExit> exit_after_tests;
  std::set<std::string> hang_after_tests;
  std::chrono::milliseconds step_delay{1};  // before each line it prints
  // Above zero: jobs wait this long before they start (like a booting VM),
  // reported with JobStarted::starts_later and Callbacks::started.
  std::chrono::milliseconds start_delay{0};

  Expected<JobStarted> start(const JobRequest& request, Callbacks callbacks) override;
  void signal(JobId id, int signal) override;
  void signal_all(int signal) override;
  void send_stdin(JobId, std::string_view) override {}
  void shutdown() override {}

  // What happened, for assertions.
  std::vector<JobRequest> started;
  std::vector<std::pair<JobId, int>> signals;
  std::function<void(int)> on_signal;  // called with each signal sent
  // The loop (core/event_loop.h) that ran the handler delivering each job's
  // end, in order; nullptr: the io_context was run by something else.
  std::vector<const EventLoop*> ended_on;
  int max_concurrent = 0;
  std::size_t running() const { return jobs_.size(); }
  std::map<std::string, int> max_concurrent_by_program;

 private:
  struct Job;
  void step(const std::shared_ptr<Job>& job);
  void finish(const std::shared_ptr<Job>& job, JobExit exit);

  boost::asio::io_context& io_;
  std::unique_ptr<TimeSource> own_time_;
  TimeSource& time_;
  std::map<JobId, std::shared_ptr<Job>> jobs_;
  std::map<std::string, int> running_by_program_;
  std::map<std::string, int> runs_;  // per test, for FlakyOnce
  JobId next_ = 1;
};

}  // namespace xrun::testing
