// The scheduler against a fake runner: statuses, timeouts that escalate,
// retries and flaky tests, fail-fast, interruption, infra errors, and the
// promise that batch and process isolation give the same statuses. Time is a
// ManualTime: the runner's delays, the scheduler's timeouts and the tests'
// own Ctrl-C are timers of one clock that moves only when nothing else can
// happen, so each run is the same sequence of events on any machine.
#include "engine/scheduler.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/post.hpp>

#include "support/fake_job_runner.h"
#include "support/manual_time.h"

using namespace xrun;
using xrun::testing::Behaviour;
using xrun::testing::FakeJobRunner;
using xrun::testing::ManualTime;
using namespace std::chrono_literals;

namespace {

class Recorder final : public Reporter {
 public:
  std::vector<TestResult> results;
  std::vector<std::string> started;
  void on_test_started(const TestCase& t) override { started.push_back(t.name); }
  void on_result(const TestResult& r) override { results.push_back(r); }
};

std::vector<TestCase> gtest_cases(const std::vector<std::string>& names, const std::string& binary = "/bin/fake") {
  std::vector<TestCase> tests;
  for (const auto& name : names) {
    TestCase tc;
    tc.binary = binary;
    tc.name = name;
    tc.kind = TestKind::GTest;
    tests.push_back(tc);
  }
  return tests;
}

std::map<std::string, Status> by_name(const std::vector<TestResult>& results) {
  std::map<std::string, Status> out;
  for (const auto& r : results) out[r.name] = r.status;
  return out;
}

struct Fixture {
  boost::asio::io_context io;
  ManualTime time{io};
  FakeJobRunner runner{io, time};
  Recorder recorder;
  SchedulerOptions timed(SchedulerOptions options) {
    options.time = &time;
    return options;
  }
  std::vector<TestResult> run(const std::vector<TestCase>& tests, SchedulerOptions options) {
    Scheduler scheduler(io, runner, recorder, timed(options));
    return scheduler.run(tests);
  }
  // Calls `what` once the clock reads `at` (a Ctrl-C, say).
  std::unique_ptr<TimeSource::Timer> at(std::chrono::milliseconds when, std::function<void()> what) {
    auto timer = time.make_timer();
    timer->start(when, std::move(what));
    return timer;
  }
};

const std::vector<std::string> kMixed = {"A.pass", "A.fail", "A.crash", "A.skip", "A.pass2", "A.exit", "A.pass3"};

void set_mixed(FakeJobRunner& runner) {
  runner.behaviour = {{"A.fail", Behaviour::Fail},
                      {"A.crash", Behaviour::Crash},
                      {"A.skip", Behaviour::Skip},
                      {"A.exit", Behaviour::Exit3}};
}

TEST(Scheduler, BatchAttributesEveryOutcomeAndRerunsAfterACrash) {
  Fixture f;
  set_mixed(f.runner);
  SchedulerOptions options;
  options.jobs = 1;
  auto results = f.run(gtest_cases(kMixed), options);
  ASSERT_EQ(results.size(), kMixed.size());
  auto s = by_name(results);
  EXPECT_EQ(s["A.pass"], Status::Passed);
  EXPECT_EQ(s["A.fail"], Status::Failed);
  EXPECT_EQ(s["A.crash"], Status::Crashed);
  EXPECT_EQ(s["A.skip"], Status::Skipped);
  EXPECT_EQ(s["A.pass2"], Status::Passed);
  EXPECT_EQ(s["A.exit"], Status::Failed);
  EXPECT_EQ(s["A.pass3"], Status::Passed);
  // Three processes: the first dies in A.crash, the second exits in A.exit.
  EXPECT_EQ(f.runner.started.size(), 3u);
  EXPECT_EQ(results[2].signal, SIGSEGV);
  EXPECT_EQ(results[2].message, "SIGSEGV (signal 11)");
  EXPECT_EQ(results[5].exit_code, 3);
  // Each test's output is its own.
  EXPECT_NE(results[0].output.find("output of A.pass\n"), std::string::npos);
  EXPECT_EQ(results[0].output.find("A.fail"), std::string::npos);
  EXPECT_NE(results[2].output.find("uncaught target signal 11"), std::string::npos);
}

TEST(Scheduler, ProcessIsolationGivesTheSameStatuses) {
  Fixture batch, process;
  set_mixed(batch.runner);
  set_mixed(process.runner);
  SchedulerOptions options;
  options.jobs = 2;
  auto batch_results = batch.run(gtest_cases(kMixed), options);
  options.isolation = Isolation::Process;
  auto process_results = process.run(gtest_cases(kMixed), options);
  EXPECT_EQ(by_name(batch_results), by_name(process_results));
  EXPECT_EQ(process.runner.started.size(), kMixed.size());
}

TEST(Scheduler, NeverMoreThanJobsAtOnce) {
  Fixture f;
  SchedulerOptions options;
  options.jobs = 3;
  options.isolation = Isolation::Process;
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) names.push_back("T.t" + std::to_string(i));
  auto results = f.run(gtest_cases(names), options);
  EXPECT_EQ(f.runner.max_concurrent, 3);
  for (const auto& r : results) EXPECT_EQ(r.status, Status::Passed);
}

TEST(Scheduler, HugeSuitesAreSplitSoCommandLinesStaySmall) {
  Fixture f;
  f.runner.step_delay = std::chrono::milliseconds(0);
  std::vector<std::string> names;
  for (int i = 0; i < 3000; ++i) names.push_back("VeryLongSuiteNameForTesting.TestNumber" + std::to_string(i));
  SchedulerOptions options;
  options.jobs = 2;
  auto results = f.run(gtest_cases(names), options);
  for (const auto& r : results) ASSERT_EQ(r.status, Status::Passed) << r.name;
  EXPECT_GT(f.runner.started.size(), 2u);
  for (const auto& request : f.runner.started) EXPECT_LE(request.args[0].size(), 33u * 1024) << "filter too long";
}

TEST(Scheduler, TimeoutTerminatesThenKillsAndTheRestStillRuns) {
  Fixture f;
  f.runner.behaviour = {{"H.hang", Behaviour::Hang}, {"H.stubborn", Behaviour::HangIgnoringTerm}};
  SchedulerOptions options;
  options.jobs = 1;
  options.timeout_seconds = 30;
  options.grace_seconds = 5;
  // Each signal with the clock's reading when it was sent.
  std::vector<std::pair<int, TimeSource::Clock::duration>> sent_at;
  f.runner.on_signal = [&](int sig) { sent_at.emplace_back(sig, f.time.now().time_since_epoch()); };
  auto results = f.run(gtest_cases({"H.before", "H.hang", "H.stubborn", "H.after"}), options);
  auto s = by_name(results);
  EXPECT_EQ(s["H.before"], Status::Passed);
  EXPECT_EQ(s["H.hang"], Status::TimedOut);
  EXPECT_EQ(s["H.stubborn"], Status::TimedOut);
  EXPECT_EQ(s["H.after"], Status::Passed);
  EXPECT_EQ(results[1].message, "timed out after 30 s");
  // Each hang got SIGTERM when its 30 s were up (its start: after 3 and 34
  // lines of 1 ms); the stubborn one SIGKILL after the 5 s grace period.
  EXPECT_EQ(sent_at, (std::vector<std::pair<int, TimeSource::Clock::duration>>{
                         {SIGTERM, 3ms + 30s}, {SIGTERM, 3ms + 30s + 1ms + 30s}, {SIGKILL, 3ms + 30s + 1ms + 35s}}));
}

TEST(Scheduler, TimeoutAndDurationCountFromTheRealStart) {
  // Jobs that wait longer than the timeout before they start (a VM booting)
  // do not time out; a hang after the start still does. Durations come from
  // the fake runner's clock: its waits and lines, nothing of the machine's.
  Fixture f;
  f.runner.start_delay = std::chrono::milliseconds(400);
  f.runner.behaviour = {{"W.hang", Behaviour::Hang}};
  SchedulerOptions options;
  options.jobs = 1;
  options.isolation = Isolation::Process;
  options.timeout_seconds = 0.3;
  options.grace_seconds = 0.05;
  auto results = f.run(gtest_cases({"W.first", "W.hang", "W.last"}), options);
  auto s = by_name(results);
  EXPECT_EQ(s["W.first"], Status::Passed);
  EXPECT_EQ(s["W.hang"], Status::TimedOut);
  EXPECT_EQ(s["W.last"], Status::Passed);
  // Each waited 400 ms to start; what it is charged is its process from its
  // start to its exit: the three lines it printed, 1 ms each.
  EXPECT_DOUBLE_EQ(results[0].duration_seconds, 0.003);
  EXPECT_DOUBLE_EQ(results[2].duration_seconds, 0.003);
}

TEST(Scheduler, InterruptBeforeAJobStartsMakesItNotRun) {
  Fixture f;
  f.runner.start_delay = std::chrono::seconds(30);
  SchedulerOptions options;
  options.jobs = 1;
  Scheduler scheduler(f.io, f.runner, f.recorder, f.timed(options));
  auto ctrl_c = f.at(20ms, [&] { scheduler.interrupt(); });
  auto results = scheduler.run(gtest_cases({"N.waiting"}));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, Status::NotRun);
  EXPECT_TRUE(f.recorder.started.empty());  // it never started
}

// A runner that reports a job's end inside start() (a machine pool with no
// machine left did): the run still ends, with every test an infra error,
// even with more tests than jobs at once. The run waited forever.
TEST(Scheduler, AJobThatEndsInsideStartStillEndsTheRun) {
  Fixture f;
  f.runner.ending_inside_start = {"/bin/lost"};
  SchedulerOptions options;
  options.jobs = 2;
  options.isolation = Isolation::Process;
  Scheduler scheduler(f.io, f.runner, f.recorder, f.timed(options));
  // A run that does not end fails the test instead of hanging it (the
  // clock gets to 60 s at once when nothing else happens).
  bool hung = false;
  auto guard = f.at(60s, [&] { hung = true, f.io.stop(); });
  auto results = scheduler.run(gtest_cases({"L.a", "L.b", "L.c", "L.d", "L.e"}, "/bin/lost"));
  guard->cancel();
  EXPECT_FALSE(hung) << "the run did not end by itself";
  ASSERT_EQ(results.size(), 5u);
  for (const auto& r : results) EXPECT_EQ(r.status, Status::InfraError) << r.name << ": " << r.message;
  EXPECT_EQ(f.recorder.results.size(), 5u);
}

// A second Ctrl-C ends the run even when a job's end never comes back.
TEST(Scheduler, ASecondInterruptEndsTheRunWhateverItsJobsDo) {
  Fixture f;
  f.runner.never_ending = {"/bin/stuck"};
  SchedulerOptions options;
  options.jobs = 1;
  Scheduler scheduler(f.io, f.runner, f.recorder, f.timed(options));
  auto first = f.at(20ms, [&] { scheduler.interrupt(); });
  auto second = f.at(40ms, [&] { scheduler.interrupt(); });
  bool hung = false;
  auto guard = f.at(60s, [&] { hung = true, f.io.stop(); });
  auto results = scheduler.run(gtest_cases({"S.stuck", "S.next"}, "/bin/stuck"));
  guard->cancel();
  EXPECT_FALSE(hung) << "the run did not end by itself";
  EXPECT_TRUE(scheduler.interrupted());
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, Status::NotRun);
  EXPECT_EQ(results[1].status, Status::NotRun);
}

TEST(Scheduler, RetriesMakeFlakyAndKeepRealFailures) {
  Fixture f;
  f.runner.behaviour = {{"R.flaky", Behaviour::FlakyOnce}, {"R.broken", Behaviour::Fail}};
  SchedulerOptions options;
  options.retries = 2;
  auto results = f.run(gtest_cases({"R.flaky", "R.broken", "R.fine"}), options);
  auto s = by_name(results);
  EXPECT_EQ(s["R.flaky"], Status::Flaky);
  EXPECT_EQ(results[0].attempts, 2);
  EXPECT_EQ(results[0].message, "passed on attempt 2 of 3");
  EXPECT_EQ(s["R.broken"], Status::Failed);
  EXPECT_EQ(results[1].attempts, 3);
  EXPECT_EQ(s["R.fine"], Status::Passed);
  EXPECT_EQ(results[2].attempts, 1);
}

TEST(Scheduler, FailFastStopsAndMarksTheRestNotRun) {
  Fixture f;
  f.runner.behaviour = {{"F.b", Behaviour::Fail}};
  SchedulerOptions options;
  options.jobs = 1;
  options.isolation = Isolation::Process;
  options.fail_fast = true;
  auto results = f.run(gtest_cases({"F.a", "F.b", "F.c", "F.d"}), options);
  auto s = by_name(results);
  EXPECT_EQ(s["F.a"], Status::Passed);
  EXPECT_EQ(s["F.b"], Status::Failed);
  EXPECT_EQ(s["F.c"], Status::NotRun);
  EXPECT_EQ(s["F.d"], Status::NotRun);
  EXPECT_EQ(f.runner.started.size(), 2u);
}

TEST(Scheduler, InterruptStopsRunningJobsAndEveryTestHasAResult) {
  Fixture f;
  f.runner.behaviour = {{"I.hang", Behaviour::Hang}};
  SchedulerOptions options;
  options.jobs = 1;
  Scheduler scheduler(f.io, f.runner, f.recorder, f.timed(options));
  auto ctrl_c = f.at(50ms, [&] { scheduler.interrupt(); });
  auto results = scheduler.run(gtest_cases({"I.ok", "I.hang", "I.never"}));
  EXPECT_TRUE(scheduler.interrupted());
  auto s = by_name(results);
  EXPECT_EQ(s["I.ok"], Status::Passed);
  EXPECT_EQ(s["I.hang"], Status::NotRun);
  EXPECT_EQ(s["I.never"], Status::NotRun);
  ASSERT_FALSE(f.runner.signals.empty());
  EXPECT_EQ(f.runner.signals.front().second, SIGTERM);
  EXPECT_EQ(f.recorder.results.size(), 3u);
}

TEST(Scheduler, EmulatorFailuresAreInfraErrorsNotTestFailures) {
  Fixture f;
  f.runner.behaviour = {{"E.emulator", Behaviour::InfraCrash}};
  f.runner.unstartable = {"/bin/broken"};
  auto tests = gtest_cases({"E.emulator", "E.after"});
  auto broken = gtest_cases({"B.one"}, "/bin/broken");
  tests.insert(tests.end(), broken.begin(), broken.end());
  auto results = f.run(tests, {});
  auto s = by_name(results);
  EXPECT_EQ(s["E.emulator"], Status::InfraError);
  EXPECT_EQ(s["E.after"], Status::Passed);
  EXPECT_EQ(s["B.one"], Status::InfraError);
  EXPECT_NE(results[2].message.find("/bin/broken: cannot start"), std::string::npos);
  for (const auto& r : results) EXPECT_FALSE(is_test_failure(r.status));
}

TEST(Scheduler, ListedSkipsAreReportedWithoutRunning) {
  Fixture f;
  auto tests = gtest_cases({"D.DISABLED_x", "D.y"});
  tests[0].skip_reason = "disabled";
  auto results = f.run(tests, {});
  EXPECT_EQ(results[0].status, Status::Skipped);
  EXPECT_EQ(results[0].message, "disabled");
  EXPECT_EQ(results[0].attempts, 0);
  EXPECT_EQ(f.runner.started.size(), 1u);
  EXPECT_EQ(f.runner.started[0].args[0], "--gtest_filter=D.y");
}

// A failed test says what failed: its assertion as the harness printed it.
TEST(Scheduler, AFailedTestCarriesItsAssertion) {
  Fixture f;
  f.runner.behaviour = {{"A.fail", Behaviour::Fail}};
  auto results = f.run(gtest_cases({"A.fail"}), {});
  ASSERT_EQ(results[0].status, Status::Failed);
  EXPECT_EQ(results[0].message, "fake_test.cpp:12: Failure");
  EXPECT_EQ(results[0].failure, "fake_test.cpp:12: Failure\nValue of: boom");
}

// Every job gets TMPDIR of its own, unless the test's own settings name one.
TEST(Scheduler, JobsAskForAPrivateTmpdirUnlessTheTestSetsOne) {
  Fixture f;
  auto tests = gtest_cases({"T.a", "T.b"});
  auto own = gtest_cases({"O.a"}, "/bin/own");
  own[0].env = {"TMPDIR=/srv/tmp"};
  tests.insert(tests.end(), own.begin(), own.end());
  f.run(tests, {});
  ASSERT_EQ(f.runner.started.size(), 2u);
  for (const auto& request : f.runner.started)
    EXPECT_EQ(request.private_tmpdir, request.program != "/bin/own") << request.program;
}

std::vector<TestCase> many(const std::string& binary, const std::string& suite, int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(suite + ".t" + std::to_string(i));
  return gtest_cases(names, binary);
}

// A group with max_jobs = 1 runs its tests one process at a time, in both
// isolation modes, while the other tests use every job slot.
TEST(Scheduler, AGroupLimitsHowManyOfItsTestsRunAtOnce) {
  for (auto isolation : {Isolation::Batch, Isolation::Process}) {
    Fixture f;
    auto tests = many("/build/posix-mock-test", "File", 8);
    auto others = many("/build/format-test", "Format", 8);
    tests.insert(tests.end(), others.begin(), others.end());
    SchedulerOptions options;
    options.jobs = 4;
    options.isolation = isolation;
    options.groups = {{"serial", {}, {"posix-mock-*"}, 1}};
    auto results = f.run(tests, options);
    for (const auto& r : results) EXPECT_EQ(r.status, Status::Passed) << r.name;
    EXPECT_EQ(f.runner.max_concurrent_by_program["/build/posix-mock-test"], 1);
    EXPECT_GT(f.runner.max_concurrent_by_program["/build/format-test"], 1) << "only the group is held back";
    if (isolation == Isolation::Batch) {
      int serial_processes = 0;
      for (const auto& request : f.runner.started) serial_processes += request.program == "/build/posix-mock-test";
      EXPECT_EQ(serial_processes, 1) << "a group of max_jobs 1 is one shard";
    }
  }
}

TEST(Scheduler, GroupsMatchByTestNameToo) {
  const std::vector<TestGroupRule> groups = {{"db", {"Db.*"}, {}, 2}, {"later", {"*"}, {"never-*"}, 1}};
  TestCase db;
  db.binary = "/b/app_tests";
  db.name = "Db.Connects";
  TestCase other = db;
  other.name = "Net.Connects";
  EXPECT_EQ(group_of(db, groups), 0u);
  EXPECT_EQ(group_of(other, groups), std::nullopt);
}

// An exception out of a handler (a bug, or a library that throws) ends the
// run like an interrupt: every test has a result and the reports are finished.
TEST(Scheduler, AnExceptionInAHandlerStillFinishesTheRun) {
  struct Throwing final : Reporter {
    bool finished = false;
    std::size_t results = 0;
    void on_result(const TestResult& r) override {
      if (r.name == "X.first") throw std::runtime_error("a reporter broke");
      ++results;
    }
    void on_finish(const std::vector<TestResult>&, double, bool) override { finished = true; }
  } reporter;
  boost::asio::io_context io;
  ManualTime time(io);
  FakeJobRunner runner(io, time);
  runner.behaviour = {{"X.hang", Behaviour::Hang}};
  SchedulerOptions options;
  options.jobs = 2;
  options.isolation = Isolation::Process;
  options.time = &time;
  Scheduler scheduler(io, runner, reporter, options);
  auto results = scheduler.run(gtest_cases({"X.first", "X.hang", "X.later"}));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(reporter.finished);
  EXPECT_EQ(results[1].status, Status::NotRun);
  EXPECT_NE(results[1].message.find("internal error: a reporter broke"), std::string::npos) << results[1].message;
  EXPECT_EQ(runner.running(), 0u) << "the hanging job was stopped";
  ASSERT_TRUE(scheduler.internal_error().has_value()) << "the run says it was stopped by a bug";
  EXPECT_EQ(*scheduler.internal_error(), "a reporter broke");
}

// exit(0) in the middle of a test: that test did not report success (failed),
// and the rest of its shard still runs, as in process isolation.
TEST(Scheduler, ExitZeroInsideATestFailsItAndTheRestStillRun) {
  for (auto isolation : {Isolation::Batch, Isolation::Process}) {
    Fixture f;
    f.runner.behaviour = {{"E.exits", Behaviour::Exit0}};
    SchedulerOptions options;
    options.jobs = 1;
    options.isolation = isolation;
    auto results = f.run(gtest_cases({"E.before", "E.exits", "E.after"}), options);
    auto s = by_name(results);
    EXPECT_EQ(s["E.before"], Status::Passed);
    EXPECT_EQ(s["E.exits"], Status::Failed);
    EXPECT_EQ(results[1].message, "the process exited with status 0 before the test reported a result");
    EXPECT_EQ(s["E.after"], Status::Passed) << "not an infra error";
  }
}

// A test that echoes a nested GoogleTest run naming the next test of its
// shard must not decide that test's result: the lines of the process's own
// run are only those that come between tests, in the order asked for.
TEST(Scheduler, ANestedRunsLinesDoNotDecideAnotherTestsResult) {
  Fixture f;
  f.runner.behaviour = {{"N.echoes", Behaviour::EchoNext}, {"N.fails", Behaviour::Fail}};
  SchedulerOptions options;
  options.jobs = 1;
  auto results = f.run(gtest_cases({"N.echoes", "N.fails", "N.last"}), options);
  auto s = by_name(results);
  EXPECT_EQ(s["N.echoes"], Status::Passed);
  EXPECT_EQ(s["N.fails"], Status::Failed) << "its nested \"OK\" was not its own";
  EXPECT_EQ(s["N.last"], Status::Passed);
}

// A nested run of the test itself makes its verdict lines ambiguous: it runs
// again alone, and its exit status decides.
TEST(Scheduler, AmbiguousLinesFallBackToAProcessOfItsOwn) {
  Fixture f;
  f.runner.behaviour = {{"S.self", Behaviour::EchoSelf}};
  SchedulerOptions options;
  options.jobs = 1;
  auto results = f.run(gtest_cases({"S.first", "S.self", "S.last"}), options);
  auto s = by_name(results);
  EXPECT_EQ(s["S.first"], Status::Passed);
  EXPECT_EQ(s["S.self"], Status::Failed) << "the nested OK is not a pass";
  EXPECT_EQ(s["S.last"], Status::Passed);
  std::size_t alone = 0;
  for (const auto& request : f.runner.started) alone += request.args[0] == "--gtest_filter=S.self";
  EXPECT_EQ(alone, 1u) << "S.self ran again in a process of its own";
}

// A process that crashes, or exits with a status its results do not
// explain, after every one of its tests reported is not a pass: in process
// isolation the process is the test; in batch the binary gets a result of its
// own, since no test can be blamed.
TEST(Scheduler, AProcessThatEndsBadlyAfterItsTestsIsNotAPass) {
  const std::vector<std::pair<JobExit, Status>> endings = {{JobExit{true, 0, SIGSEGV}, Status::Crashed},
                                                           {JobExit{false, 23, 0}, Status::Failed},
                                                           {JobExit{false, 3, 0}, Status::Failed}};
  for (const auto& [ending, status] : endings) {
    for (auto isolation : {Isolation::Batch, Isolation::Process}) {
      SCOPED_TRACE(std::string(status_name(status)) + (isolation == Isolation::Batch ? " batch" : " process"));
      Fixture f;
      f.runner.exit_after_tests["/bin/fake"] = ending;
      SchedulerOptions options;
      options.jobs = 1;
      options.isolation = isolation;
      auto results = f.run(gtest_cases({"D.one", "D.two"}), options);
      if (isolation == Isolation::Process) {
        ASSERT_EQ(results.size(), 2u);
        for (const auto& r : results) {
          EXPECT_EQ(r.status, status) << r.name << ": " << r.message;
          EXPECT_NE(r.message.find("after the test reported passed"), std::string::npos) << r.message;
          EXPECT_NE(r.output.find("what the process printed at its exit"), std::string::npos);
          if (ending.signaled)
            EXPECT_EQ(r.signal, ending.signal);
          else
            EXPECT_EQ(r.exit_code, ending.code);
        }
      } else {
        ASSERT_EQ(results.size(), 3u);
        EXPECT_EQ(results[0].status, Status::Passed);
        EXPECT_EQ(results[1].status, Status::Passed);
        EXPECT_EQ(results[2].name, kProcessExitTestName);
        EXPECT_EQ(results[2].binary, "/bin/fake");
        EXPECT_EQ(results[2].status, status) << results[2].message;
        EXPECT_NE(results[2].message.find("after its tests reported (D.one, D.two)"), std::string::npos)
            << results[2].message;
        EXPECT_NE(results[2].output.find("what the process printed at its exit"), std::string::npos);
        EXPECT_EQ(f.recorder.results.size(), 3u) << "the reporters heard of it";
      }
    }
  }
}

// A harness exits 1 when one of its tests failed: that status is explained.
TEST(Scheduler, AFailedTestExplainsItsProcesssStatus) {
  Fixture f;
  f.runner.behaviour = {{"F.fails", Behaviour::Fail}};
  SchedulerOptions options;
  options.jobs = 1;
  auto results = f.run(gtest_cases({"F.passes", "F.fails"}), options);
  ASSERT_EQ(results.size(), 2u) << "no result for the process";
  EXPECT_EQ(results[0].status, Status::Passed);
  EXPECT_EQ(results[1].status, Status::Failed);
}

TEST(Scheduler, AProcessThatHangsAfterItsTestsTimesOut) {
  for (auto isolation : {Isolation::Batch, Isolation::Process}) {
    Fixture f;
    f.runner.hang_after_tests.insert("/bin/fake");
    SchedulerOptions options;
    options.jobs = 1;
    options.isolation = isolation;
    options.timeout_seconds = 0.05;
    options.grace_seconds = 0.01;
    auto results = f.run(gtest_cases({"H.one", "H.two"}), options);
    const Status last = results.back().status;
    EXPECT_EQ(last, Status::TimedOut) << results.back().name << ": " << results.back().message;
    if (isolation == Isolation::Batch) {
      EXPECT_EQ(results.back().name, kProcessExitTestName);
    }
  }
}

// What a test writes to stderr without a newline does not split its
// harness's result line: the parser reads stdout alone, and the stderr bytes
// are still the test's output.
TEST(Scheduler, StderrDoesNotSplitTheHarnesssLines) {
  for (auto isolation : {Isolation::Batch, Isolation::Process}) {
    Fixture f;
    f.runner.behaviour = {{"W.writes", Behaviour::StderrMidLine}};
    SchedulerOptions options;
    options.jobs = 1;
    options.isolation = isolation;
    auto results = f.run(gtest_cases({"W.first", "W.writes", "W.last"}), options);
    auto s = by_name(results);
    EXPECT_EQ(s["W.writes"], Status::Passed) << results[1].message;
    EXPECT_EQ(s["W.last"], Status::Passed);
    EXPECT_NE(results[1].output.find("written to stderr by W.writes"), std::string::npos) << results[1].output;
    EXPECT_EQ(results[0].output.find("written to stderr"), std::string::npos);
    EXPECT_EQ(f.runner.started.size(), isolation == Isolation::Batch ? 1u : 3u) << "no re-run";
  }
}

}  // namespace
