#include "engine/scheduler.h"

#include <signal.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <deque>
#include <list>
#include <map>
#include <set>

#include "core/log.h"
#include "engine/bounded_output.h"
#include "engine/exit_classification.h"
#include "engine/harness_stream.h"

namespace xrun {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

Clock::duration to_duration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

struct Scheduler::State {
  State(asio::io_context& io_, JobRunner& runner_, Reporter& reporter_, SchedulerOptions options_)
      : io(io_),
        runner(runner_),
        reporter(reporter_),
        options(options_),
        own_time(options.loop || options.time ? nullptr : steady_time(io)),
        time(options.loop   ? options.loop->time()
             : options.time ? *options.time
                            : *own_time),
        own_loop(options.loop ? nullptr : std::make_unique<EventLoop>(io, time)),
        loop(options.loop ? *options.loop : *own_loop) {}

  using Unit = TestUnit;  // unit_plan.h

  struct TestState {
    int attempts = 0;
    bool failed_before = false;
    bool final = false;
    std::vector<Attempt> history;  // the attempts before the last, for TestResult::history
  };

  // One unit in flight.
  struct Running {
    explicit Running(TimeSource& time) : timeout_timer(time.make_timer()), kill_timer(time.make_timer()) {}
    Unit unit;
    TestKind kind = TestKind::Plain;
    JobId job = 0;
    bool counted_in_group = false;
    std::string backend;
    std::string machine;  // the board or VM it ran on (JobRunner::machine_of)
    std::string target;   // JobStarted::target
    std::unique_ptr<HarnessStream> stream;
    std::map<std::string, std::size_t> by_name;
    std::set<std::size_t> finished;
    std::optional<std::size_t> current;
    Clock::time_point unit_start, test_start;
    std::map<std::size_t, BoundedOutput> outputs;
    std::unique_ptr<BoundedOutput> unowned;
    std::unique_ptr<TimeSource::Timer> timeout_timer, kill_timer;
    std::optional<std::size_t> timed_out_test;
    // libtest prints a failed test's captured output after the whole run:
    // its result waits for the process to end.
    std::vector<std::pair<std::size_t, TestResult>> deferred;
    // The test that finished last, until the next one starts or the process
    // ends: stderr is a pipe of its own, and what the test wrote there may
    // be read after the stdout line that ended it.
    std::optional<std::pair<std::size_t, TestResult>> held;
    bool timed_out = false;
    bool cancelled = false;
    bool begun = false;                 // see JobStarted::starts_later
    bool reported_failure = false;      // a test of this process said it failed (its exit status is then not 0)
    bool starting = false;              // inside JobRunner::start()
    std::optional<JobExit> early_exit;  // its end, heard inside start()
    bool abandoned = false;             // written off by a second stop (abandon_running): its callbacks do nothing
  };

  asio::io_context& io;
  JobRunner& runner;
  Reporter& reporter;
  SchedulerOptions options;
  std::unique_ptr<TimeSource> own_time;  // when neither options.loop nor options.time is set
  TimeSource& time;
  std::unique_ptr<EventLoop> own_loop;  // when options.loop is unset
  EventLoop& loop;
  const std::vector<TestCase>* tests = nullptr;
  std::vector<TestState> states;
  // Each test's result, by plan index: kept apart from `states` so that
  // run() hands them over without a copy (copying 100,000 results took a
  // third of a second between Ctrl-C and the reports).
  std::vector<TestResult> results;
  std::deque<Unit> queue;
  std::list<std::unique_ptr<Running>> running;
  // Units a second Ctrl-C wrote off while their jobs had not ended: kept
  // until the run is over, since their runner may still call them back.
  std::list<std::unique_ptr<Running>> abandoned;
  std::vector<std::optional<std::size_t>> group_of_test;
  std::vector<int> group_running;  // units in flight per group
  std::size_t remaining = 0;
  bool stopping = false;
  bool was_interrupted = false;
  std::string stop_reason;
  std::string not_run_message;  // "not run: " + stop_reason

  Clock::time_point now() const { return time.now(); }

  BoundedOutput& output_of(Running& r, std::size_t index) {
    auto it = r.outputs.find(index);
    if (it == r.outputs.end())
      it = r.outputs.emplace(index, BoundedOutput(options.output_head_bytes, options.output_tail_bytes)).first;
    return it->second;
  }

  bool group_full(const Unit& unit) const {
    return unit.group && group_running[*unit.group] >= options.groups[*unit.group].max_jobs;
  }

  void pump() {
    // The first unit in the queue whose group has room: a full group holds
    // back only its own tests. A loop, never a recursion: a unit that cannot
    // start is judged at once and the next one tried here (200,000 of them
    // in a row must not take 200,000 stack frames).
    for (auto it = queue.begin();
         !stopping && running.size() < static_cast<std::size_t>(std::max(options.jobs, 1)) && it != queue.end();) {
      if (group_full(*it)) {
        ++it;
        continue;
      }
      Unit unit = std::move(*it);
      it = queue.erase(it);
      start_unit(std::move(unit));
      it = queue.begin();  // start_unit may have queued or finished units
    }
  }

  // Starts a unit, or judges its tests at once when its job cannot start
  // (pump() then tries the next unit).
  void start_unit(Unit unit) {
    const TestCase& first = (*tests)[unit.tests.front()];
    auto owned = std::make_unique<Running>(time);
    Running* r = owned.get();
    r->unit = std::move(unit);
    r->kind = first.kind;
    r->unowned = std::make_unique<BoundedOutput>(options.output_head_bytes, options.output_tail_bytes);
    std::vector<std::string> names;
    for (std::size_t index : r->unit.tests) {
      r->by_name[(*tests)[index].name] = index;
      names.push_back((*tests)[index].name);
    }
    StreamEvents events;
    events.started = [this, r](const std::string& name) { on_started(*r, name); };
    events.finished = [this, r](const std::string& name, Verdict verdict) { on_finished(*r, name, verdict); };
    events.output = [this, r](const std::string& name, std::string_view bytes) {
      auto it = r->by_name.find(name);
      if (it != r->by_name.end())
        output_of(*r, it->second).append(bytes);
      else if (r->kind == TestKind::Plain)
        output_of(*r, r->unit.tests.front()).append(bytes);
      else
        r->unowned->append(bytes);
    };
    r->stream = make_harness_stream(r->kind, std::move(events), names);

    const JobRequest request = unit_request(
        *tests, r->unit, {options.isolation, options.private_tmpdirs, options.timeout_seconds, options.grace_seconds});
    r->unit_start = r->test_start = now();
    // A job's end heard while start() has not returned (JobRunner says it
    // must not happen; a runner that did so made the run wait forever, the
    // unit never retired) waits until the unit is in `running`.
    JobRunner::Callbacks callbacks{[r](std::string_view bytes) {
                                     if (!r->abandoned) r->stream->feed(bytes);
                                   },
                                   [this, r](const JobExit& exit) {
                                     if (r->starting)
                                       r->early_exit = exit;
                                     else if (!r->abandoned)
                                       on_exit(*r, exit);
                                   },
                                   [this, r] { begin(*r); }};
    // A harness writes its lines to stdout; what a test writes to stderr
    // (unbuffered, mid-line) must not split them ("test a ... " <stderr> "ok"),
    // so the parser reads stdout alone and stderr goes, as it arrives, to the
    // test running then. A plain program's two streams stay one pipe: there
    // is nothing to parse, and their order is exact.
    if (r->kind != TestKind::Plain)
      callbacks.error_output = [this, r](std::string_view bytes) { on_stderr(*r, bytes); };
    r->starting = true;
    auto started = runner.start(request, std::move(callbacks));
    r->starting = false;
    if (!started) {
      for (std::size_t index : r->unit.tests) {
        TestResult result = base_result(index);
        result.status = Status::InfraError;
        result.message = started.error().message;
        finalize_attempt(index, std::move(result));
      }
      return;
    }
    r->job = started->id;
    r->backend = started->backend;
    r->target = started->target;
    if (r->unit.group) {
      ++group_running[*r->unit.group];
      r->counted_in_group = true;
    }
    running.push_back(std::move(owned));
    if (!started->starts_later) begin(*r);
    if (r->early_exit)
      asio::post(io, [this, r] {
        if (!r->abandoned) on_exit(*r, *r->early_exit);
      });
  }

  // stderr comes on a pipe of its own, so it may be read after the stdout
  // line that ended the test that wrote it: a process of one test owns all
  // of it; in a shard it goes to the test running then, else unowned.
  void on_stderr(Running& r, std::string_view bytes) {
    if (r.unit.tests.size() == 1) {
      output_of(r, r.unit.tests.front()).append(bytes);
      return;
    }
    const std::string& name = r.stream->current();
    auto it = name.empty() ? r.by_name.end() : r.by_name.find(name);
    if (it != r.by_name.end())
      output_of(r, it->second).append(bytes);
    else if (r.held)
      output_of(r, r.held->first).append(bytes);
    else
      r.unowned->append(bytes);
  }

  void release_held(Running& r) {
    if (!r.held) return;
    auto [index, result] = std::move(*r.held);
    r.held.reset();
    take_output(r, index, result, false);
    finalize_attempt(index, std::move(result));
  }

  // The job really runs from now: its clock and timeout start.
  void begin(Running& r) {
    if (r.begun || r.cancelled) return;
    r.begun = true;
    r.unit_start = r.test_start = now();
    r.machine = runner.machine_of(r.job);
    // For the trace, and for tests that wait for a job to run (on a board,
    // the agent said STARTED: the program is exec'd).
    log_debug("scheduler: job {} of {} began{}{}", r.job, (*tests)[r.unit.tests.front()].binary,
              r.machine.empty() ? "" : " on ", r.machine);
    if (r.kind == TestKind::Plain) {
      r.current = r.unit.tests.front();
      reporter.on_test_started((*tests)[*r.current]);
    }
    arm_timeout(r);
  }

  void arm_timeout(Running& r) {
    if (!options.timeout_seconds || r.timed_out || r.cancelled) return;
    r.timeout_timer->start(to_duration(*options.timeout_seconds), [this, &r] { on_timeout(r); });
  }

  void on_started(Running& r, const std::string& name) {
    auto it = r.by_name.find(name);
    if (it == r.by_name.end()) return;
    release_held(r);
    r.current = it->second;
    r.test_start = now();
    arm_timeout(r);
    reporter.on_test_started((*tests)[it->second]);
  }

  void on_finished(Running& r, const std::string& name, Verdict verdict) {
    auto it = r.by_name.find(name);
    if (it == r.by_name.end()) return;
    const std::size_t index = it->second;
    // Its timeout fired and it reports while being terminated: it is still
    // the running test, timed out when its process ends. (Counted as
    // reported, it was given no result at all: "not run: internal error".)
    if (r.timed_out && r.timed_out_test == index) return;
    r.finished.insert(index);
    r.current.reset();
    TestResult result = base_result(index);
    result.backend = r.backend;
    result.machine = r.machine;
    result.target = r.target;
    result.duration_seconds = std::chrono::duration<double>(now() - r.test_start).count();
    result.status = verdict == Verdict::Passed   ? Status::Passed
                    : verdict == Verdict::Failed ? Status::Failed
                                                 : Status::Skipped;
    result.message = verdict == Verdict::Skipped ? "skipped by the test at run time" : "";
    if (verdict == Verdict::Failed) r.reported_failure = true;
    // A process of one test *is* the test: how it ends (a crash in a static
    // destructor, LeakSanitizer's exit status) is part of its result, known
    // only at its exit.
    if ((verdict == Verdict::Failed && r.kind == TestKind::Libtest) || r.unit.tests.size() == 1) {
      r.deferred.emplace_back(index, std::move(result));
      return;
    }
    release_held(r);
    r.held.emplace(index, std::move(result));
  }

  // A failed test's message is its assertion's first line, when it has one.
  void describe_failure(TestKind kind, TestResult& result) const {
    result.failure = failure_text(kind, result.output);
    result.message =
        result.failure.empty() ? "the test reported failure" : result.failure.substr(0, result.failure.find('\n'));
  }

  void on_timeout(Running& r) {
    if (r.timed_out || r.cancelled) return;
    r.timed_out = true;
    r.timed_out_test = r.current ? r.current : first_unfinished(r);
    terminate(r);
  }

  // Escalating cancellation: SIGTERM to the process group now, SIGKILL after the grace period.
  void terminate(Running& r) {
    runner.signal(r.job, SIGTERM);
    r.kill_timer->start(to_duration(options.grace_seconds), [this, &r] { runner.signal(r.job, SIGKILL); });
  }

  std::optional<std::size_t> first_unfinished(const Running& r) const {
    for (std::size_t index : r.unit.tests)
      if (!r.finished.count(index)) return index;
    return std::nullopt;
  }

  void take_output(Running& r, std::size_t index, TestResult& result, bool with_unowned) {
    BoundedOutput& out = output_of(r, index);
    if (with_unowned && r.unowned->total_bytes() > 0) {
      // Output outside any test (e.g. a crash before the first test started)
      // goes to the test that is blamed for the process's end.
      out.append(r.unowned->text());
      r.unowned = std::make_unique<BoundedOutput>(options.output_head_bytes, options.output_tail_bytes);
    }
    result.output = out.text();
    result.output_cut_bytes = out.cut_bytes();
  }

  // What is known of the unit as its process ends (exit_classification.h).
  UnitEnd unit_end(const Running& r) const {
    UnitEnd end;
    end.kind = r.kind;
    end.reported.reserve(r.unit.tests.size());
    for (std::size_t i = 0; i < r.unit.tests.size(); ++i) {
      const std::size_t index = r.unit.tests[i];
      end.reported.push_back(r.finished.count(index) > 0);
      if (r.current == index) end.running = i;
      if (r.timed_out_test == index) end.timed_out_test = i;
    }
    end.timed_out = r.timed_out;
    end.cancelled = r.cancelled;
    end.stopping = stopping;
    end.ambiguous = r.stream->ambiguous();
    end.reported_failure = r.reported_failure;
    return end;
  }

  static void apply(TestResult& result, const ExitBlame& blame) {
    result.status = blame.status;
    result.message = blame.message;
    result.signal = blame.signal;
    result.exit_code = blame.exit_code;
  }

  void retire(Running& r) {
    if (r.counted_in_group) --group_running[*r.unit.group];
    running.remove_if([&](const auto& p) { return p.get() == &r; });
    pump();
  }

  void on_exit(Running& r, const JobExit& exit) {
    if (!r.begun && !r.cancelled && !exit.infra_error) begin(r);  // ended without a word of its start
    r.stream->finish();
    release_held(r);
    const bool ended_badly = ended_badly_after_reports(unit_end(r), exit);
    for (auto& [index, result] : r.deferred) {
      const bool alone = r.unit.tests.size() == 1;
      take_output(r, index, result, alone && ended_badly);  // what the process printed as it ended
      // Its process is what it cost: static initialisers and the exit count
      // (a test that reports in a moment and then takes 50 s to exit is slow).
      if (alone) result.duration_seconds = std::chrono::duration<double>(now() - r.unit_start).count();
      if (alone && ended_badly)
        apply(result, blame_the_exit(exit, r.timed_out, options.timeout_seconds,
                                     "after the test reported " + std::string(status_name(result.status))));
      finalize_attempt(index, std::move(result));
    }
    r.deferred.clear();
    r.timeout_timer->cancel();
    r.kill_timer->cancel();
    // Judged after the results above: a --fail-fast stop that one of them
    // made has cancelled this unit too.
    const ExitVerdict verdict = classify_exit(unit_end(r), exit, options.timeout_seconds, stop_reason);
    if (verdict.rerun_each_alone) {
      for (std::size_t index : r.unit.tests)
        if (!r.finished.count(index)) queue.push_front(Unit{{index}, r.unit.group});
      retire(r);
      return;
    }

    if (verdict.blamed) {
      const BlamedTest& blamed = *verdict.blamed;
      const std::size_t index = r.unit.tests[blamed.test];
      const double ran =
          std::chrono::duration<double>(now() - (blamed.was_running ? r.test_start : r.unit_start)).count();
      // Its machine went away under it: the test runs again with the rest of
      // its shard (on another machine), once; not a test retry.
      if (blamed.may_run_again_elsewhere && machine_retries[index]++ < 1) {
        lost_seconds[index] += ran;
      } else {
        r.finished.insert(index);
        TestResult result = base_result(index);
        result.backend = r.backend;
        result.machine = r.machine;
        result.target = r.target;
        result.duration_seconds = ran;
        take_output(r, index, result, blamed.takes_unowned_output);
        apply(result, blamed.result);
        finalize_attempt(index, std::move(result));
      }
    }

    // Every test of a shard reported and then the process crashed, hung or
    // exited with a status its results do not explain: that is not a pass.
    // No test can be blamed for it (run with --isolation process to see
    // which one's process does it), so the binary gets a result of its own.
    if (r.unit.tests.size() > 1 && ended_badly && !first_unfinished(r)) {
      TestResult result = base_result(r.unit.tests.front());
      result.name = std::string(kProcessExitTestName);
      result.backend = r.backend;
      result.machine = r.machine;
      result.target = r.target;
      result.duration_seconds = std::chrono::duration<double>(now() - r.unit_start).count();
      result.attempts = 1;
      result.output = r.unowned->text();
      result.output_cut_bytes = r.unowned->cut_bytes();
      std::string names;
      for (std::size_t i = 0; i < r.unit.tests.size() && i < 5; ++i)
        names += (i ? ", " : "") + (*tests)[r.unit.tests[i]].name;
      if (r.unit.tests.size() > 5) names += ", ... (" + std::to_string(r.unit.tests.size()) + " tests)";
      apply(result,
            blame_the_exit(exit, r.timed_out, options.timeout_seconds, "after its tests reported (" + names + ")"));
      extra_results.push_back(result);
      reporter.on_result(result);
      if (options.fail_fast) stop("--fail-fast after " + result.name);
    }

    // Tests of the shard that never ran. A --fail-fast stop may have come
    // from the results just given: they are then not run either.
    Unit rest;
    for (std::size_t index : r.unit.tests)
      if (!r.finished.count(index)) rest.tests.push_back(index);
    const RestOfUnit fate = r.cancelled || stopping ? RestOfUnit::NotRun : verdict.rest;
    if (!rest.tests.empty()) {
      if (fate == RestOfUnit::NotRun) {
        for (std::size_t index : rest.tests) not_run(index);
      } else if (fate == RestOfUnit::RunAgain) {
        rest.group = r.unit.group;
        queue.push_front(std::move(rest));  // a fresh process for the rest of the shard
      } else {
        for (std::size_t index : rest.tests) {
          TestResult result = base_result(index);
          result.backend = r.backend;
          result.machine = r.machine;
          result.target = r.target;
          result.status = Status::InfraError;
          result.message = "the test harness exited without running this test";
          result.exit_code = exit.code;
          finalize_attempt(index, std::move(result));
        }
      }
    }
    retire(r);
  }

  std::map<std::size_t, int> machine_retries;  // runs again because their machine went away
  std::map<std::size_t, double> lost_seconds;  // how long they had run on it
  std::vector<TestResult> extra_results;       // a process's own end after its tests (kProcessExitTestName)
  std::optional<std::string> internal_error;   // an exception stopped the run

  TestResult base_result(std::size_t index) const {
    const TestCase& tc = (*tests)[index];
    TestResult result;
    result.binary = tc.binary;
    result.name = tc.name;
    return result;
  }

  void not_run(std::size_t index) {
    TestState& st = states[index];
    if (st.final) return;
    // In place: results[index] has its names from the start (run()), and a
    // stop writes off tens of thousands of tests.
    TestResult& result = results[index];
    if (st.failed_before) result = base_result(index);  // not the failed attempt a retry was to follow
    result.status = Status::NotRun;
    result.message = not_run_message;
    result.attempts = st.attempts;
    st.final = true;
    --remaining;
    reporter.on_result(results[index]);
  }

  void finalize_attempt(std::size_t index, TestResult result) {
    TestState& st = states[index];
    if (st.final) return;
    if (result.status == Status::Failed && result.message.empty()) describe_failure((*tests)[index].kind, result);
    if (result.status != Status::NotRun && result.status != Status::Skipped) ++st.attempts;
    // A test whose machine went away under it and that then found none (the
    // only board is gone) ran for as long as it had run there, not 0 s.
    if (result.status == Status::InfraError)
      if (auto lost = lost_seconds.find(index); lost != lost_seconds.end()) result.duration_seconds += lost->second;
    result.attempts = st.attempts;
    const AttemptVerdict verdict =
        judge_attempt(result.status, st.attempts, options.retries, st.failed_before, stopping);
    if (verdict.run_again) {
      st.failed_before = true;
      st.history.push_back({result.status, result.duration_seconds, result.message});
      results[index] = std::move(result);
      queue.push_back(Unit{{index}, group_of_test[index]});
      return;
    }
    result.status = verdict.status;
    if (!verdict.message.empty()) result.message = verdict.message;
    if (!st.history.empty()) {
      result.history = std::move(st.history);
      result.history.push_back({result.status, result.duration_seconds, result.message});
    }
    results[index] = std::move(result);
    st.final = true;
    --remaining;
    reporter.on_result(results[index]);
    if (is_test_failure(results[index].status) && options.fail_fast) stop("--fail-fast after " + results[index].name);
  }

  // A second Ctrl-C or SIGTERM: whatever still runs has been sent SIGKILL
  // (runner.signal_all), and the run ends now, without waiting for their
  // ends to come back: a job a runner lost track of, or one on a machine
  // that stopped answering, must not keep a run from ending. Its tests are
  // not-run.
  void abandon_running() {
    for (auto& r : running) {
      r->abandoned = true;
      r->timeout_timer->cancel();
      r->kill_timer->cancel();
      release_held(*r);  // a test that had finished keeps its result
      for (std::size_t index : r->unit.tests) not_run(index);
    }
    abandoned.splice(abandoned.end(), running);
  }

  void stop(const std::string& reason) {
    if (stopping) return;
    stopping = true;
    stop_reason = reason;
    not_run_message = "not run: " + reason;
    // The running jobs first: they end while the queue is written off.
    for (auto& r : running) {
      if (r->cancelled) continue;
      r->cancelled = true;
      r->timeout_timer->cancel();
      terminate(*r);
    }
    while (!queue.empty()) {
      for (std::size_t index : queue.front().tests) not_run(index);
      queue.pop_front();
    }
  }
};

Scheduler::Scheduler(asio::io_context& io, JobRunner& runner, Reporter& reporter, SchedulerOptions options)
    : state_(std::make_unique<State>(io, runner, reporter, options)) {}

Scheduler::~Scheduler() = default;

void Scheduler::interrupt() {
  if (state_->was_interrupted) {
    state_->abandon_running();
    return;
  }
  state_->was_interrupted = true;
  state_->stop("interrupted");
}

bool Scheduler::interrupted() const { return state_->was_interrupted; }

const std::optional<std::string>& Scheduler::internal_error() const { return state_->internal_error; }

std::vector<TestResult> Scheduler::run(const std::vector<TestCase>& tests) {
  State& s = *state_;
  const auto start = s.now();
  s.tests = &tests;
  s.states.assign(tests.size(), {});
  s.results.assign(tests.size(), {});
  for (std::size_t i = 0; i < tests.size(); ++i) s.results[i] = s.base_result(i);
  s.remaining = tests.size();
  s.group_running.assign(s.options.groups.size(), 0);
  UnitPlan plan = plan_units(tests, s.options.isolation, s.options.jobs, s.options.groups);
  s.group_of_test = std::move(plan.group_of_test);
  const auto planned = s.now();
  s.reporter.on_plan(tests);
  log_debug("scheduler: {} units planned in {:.3f} s, the reporters' plan took {:.3f} s", plan.units.size(),
            std::chrono::duration<double>(planned - start).count(),
            std::chrono::duration<double>(s.now() - planned).count());
  for (std::size_t i = 0; i < tests.size(); ++i) {
    if (tests[i].skip_reason) {
      TestResult result = s.base_result(i);
      result.status = Status::Skipped;
      result.message = *tests[i].skip_reason;
      s.finalize_attempt(i, std::move(result));
    }
  }
  s.queue.insert(s.queue.end(), std::make_move_iterator(plan.units.begin()), std::make_move_iterator(plan.units.end()));
  s.pump();
  // A bug that throws out of a handler must not lose the run: it stops the
  // run as an interrupt would (running jobs terminated, the rest not-run),
  // and the reports are still finished below. This is the top of the run's
  // loop, as xrun_main() is the top of the process (runner/xrun_main.cpp):
  // the library's only catch besides that one (scripts/check-catches.sh),
  // for what nothing below expects -- every failure the code foresees is
  // an Expected.
  int faults = 0;
  for (;;) {
    try {
      // Until every test has its result; or until nothing is left that
      // could finish one (no work, and no timer the clock could move to).
      s.loop.run_until([&] { return s.remaining == 0 && s.running.empty(); });
      break;
    } catch (const std::exception& e) {
      log_error("internal error while running the tests: {}", e.what());
      if (!s.internal_error) s.internal_error = e.what();
      s.stop(std::string("internal error: ") + e.what());
      if (++faults > 100) break;
    }
  }
  for (std::size_t i = 0; i < tests.size(); ++i) {
    if (!s.states[i].final) {
      s.stop_reason = s.stop_reason.empty() ? "internal error: the test never finished" : s.stop_reason;
      s.not_run_message = "not run: " + s.stop_reason;
      s.not_run(i);
    }
  }
  std::vector<TestResult> results = std::move(s.results);
  results.insert(results.end(), s.extra_results.begin(), s.extra_results.end());
  s.reporter.on_finish(results, std::chrono::duration<double>(s.now() - start).count(), s.was_interrupted);
  return results;
}

}  // namespace xrun
