#include "support/fake_job_runner.h"

#include <signal.h>

#include <sstream>

namespace xrun::testing {

struct FakeJobRunner::Job {
  explicit Job(TimeSource& time) : timer(time.make_timer()) {}
  JobId id;
  std::string program;
  std::vector<std::string> tests;
  std::size_t next = 0;
  bool in_test = false;
  bool hanging = false;
  bool any_failed = false;  // a GoogleTest binary then exits 1
  bool ignores_term = false;
  bool done = false;
  Callbacks callbacks;
  std::unique_ptr<TimeSource::Timer> timer;
};

// A pending timer's callback holds its job, which holds the timer.
FakeJobRunner::~FakeJobRunner() {
  for (auto& [id, job] : jobs_) job->timer->cancel();
}

Expected<JobStarted> FakeJobRunner::start(const JobRequest& request, Callbacks callbacks) {
  if (unstartable.count(request.program)) return make_error(ExitCode::InfraError, request.program + ": cannot start");
  started.push_back(request);
  auto job = std::make_shared<Job>(time_);
  job->id = next_++;
  job->program = request.program;
  job->callbacks = std::move(callbacks);
  for (const auto& arg : request.args) {
    if (arg.rfind("--gtest_filter=", 0) != 0) continue;
    std::stringstream names(arg.substr(15));
    for (std::string name; std::getline(names, name, ':');) job->tests.push_back(name);
  }
  if (ending_inside_start.count(request.program)) {
    JobExit exit;
    exit.infra_error = "no machine left";
    job->callbacks.exited(exit);
    return JobStarted{job->id, "fake"};
  }
  if (never_ending.count(request.program)) return JobStarted{job->id, "fake", "", true};
  jobs_[job->id] = job;
  job->hanging = hanging.count(request.program) > 0;
  max_concurrent = std::max<int>(max_concurrent, static_cast<int>(jobs_.size()));
  int& by_program = max_concurrent_by_program[request.program];
  by_program = std::max(by_program, ++running_by_program_[request.program]);
  if (start_delay.count() == 0) {
    step(job);
    return JobStarted{job->id, "fake"};
  }
  job->timer->start(start_delay, [this, job] {
    if (job->done) return;
    job->callbacks.started();
    step(job);
  });
  return JobStarted{job->id, "fake", "", true};
}

void FakeJobRunner::step(const std::shared_ptr<Job>& job) {
  job->timer->start(step_delay, [this, job] {
    if (job->done || job->hanging) return;
    if (job->next == job->tests.size()) {
      job->callbacks.output("[==========] done\n");
      if (hang_after_tests.count(job->program)) {
        job->hanging = true;
        return;
      }
      auto special = exit_after_tests.find(job->program);
      if (special != exit_after_tests.end()) {
        job->callbacks.output("what the process printed at its exit\n");
        finish(job, special->second);
        return;
      }
      finish(job, JobExit{false, job->any_failed ? 1 : 0, 0});
      return;
    }
    const std::string& name = job->tests[job->next];
    if (!job->in_test) {
      job->in_test = true;
      job->callbacks.output("[ RUN      ] " + name + "\n");
      step(job);
      return;
    }
    const auto it = behaviour.find(name);
    Behaviour b = it == behaviour.end() ? Behaviour::Pass : it->second;
    const int run = ++runs_[name];
    if (b == Behaviour::FlakyOnce) b = run == 1 ? Behaviour::Fail : Behaviour::Pass;
    job->in_test = false;
    ++job->next;
    switch (b) {
      case Behaviour::Pass:
        job->callbacks.output("output of " + name + "\n[       OK ] " + name + " (1 ms)\n");
        break;
      case Behaviour::Fail:
        job->any_failed = true;
        job->callbacks.output("fake_test.cpp:12: Failure\nValue of: boom\n[  FAILED  ] " + name + " (1 ms)\n");
        break;
      case Behaviour::EchoNext: {
        const std::string other = job->next < job->tests.size() ? job->tests[job->next] : "Other.Test";
        job->callbacks.output("[ RUN      ] " + other + "\n[       OK ] " + other + " (0 ms)\n[       OK ] " + name +
                              " (1 ms)\n");
        break;
      }
      case Behaviour::EchoSelf:
        job->any_failed = true;
        job->callbacks.output("[ RUN      ] " + name + "\n[       OK ] " + name +
                              " (0 ms)\nfake_test.cpp:30: Failure\n[  FAILED  ] " + name + " (1 ms)\n");
        break;
      case Behaviour::Exit0:
        finish(job, JobExit{false, 0, 0});
        return;
      case Behaviour::StderrMidLine: {
        const auto& to_stderr = job->callbacks.error_output ? job->callbacks.error_output : job->callbacks.output;
        job->callbacks.output("output of " + name + "\n");
        to_stderr("written to stderr by " + name + " without a newline");
        job->callbacks.output("[       OK ] " + name + " (1 ms)\n");
        break;
      }
      case Behaviour::Skip:
        job->callbacks.output("[  SKIPPED ] " + name + " (0 ms)\n");
        break;
      case Behaviour::Crash:
        job->callbacks.output("qemu: uncaught target signal 11 (Segmentation fault) - core dumped\n");
        finish(job, JobExit{true, 0, SIGSEGV});
        return;
      case Behaviour::InfraCrash: {  // as the process runner reports qemu's own failure
        job->callbacks.output("qemu: fatal: something inside the emulator\n");
        JobExit exit{true, 0, SIGABRT};
        exit.infra_error = "the emulator failed: qemu: fatal: something inside the emulator (qemu died of SIGABRT)";
        finish(job, exit);
        return;
      }
      case Behaviour::Exit3:
        finish(job, JobExit{false, 3, 0});
        return;
      case Behaviour::FlakyOnce:
        break;  // resolved above
      case Behaviour::Hang:
      case Behaviour::HangIgnoringTerm:
        job->hanging = true;
        job->ignores_term = b == Behaviour::HangIgnoringTerm;
        return;  // until signalled
    }
    step(job);
  });
}

void FakeJobRunner::finish(const std::shared_ptr<Job>& job, JobExit exit) {
  if (job->done) return;
  job->done = true;
  job->timer->cancel();
  jobs_.erase(job->id);
  --running_by_program_[job->program];
  // Deliver the end asynchronously, as a real process would be.
  boost::asio::post(io_, [this, job, exit] {
    ended_on.push_back(EventLoop::current());
    job->callbacks.exited(exit);
  });
}

void FakeJobRunner::signal(JobId id, int sig) {
  signals.emplace_back(id, sig);
  if (on_signal) on_signal(sig);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  auto job = it->second;
  if (sig == SIGTERM && job->ignores_term) return;
  finish(job, JobExit{true, 0, sig});
}

void FakeJobRunner::signal_all(int sig) {
  std::vector<JobId> ids;
  for (const auto& [id, job] : jobs_) ids.push_back(id);
  for (JobId id : ids) signal(id, sig);
}

}  // namespace xrun::testing
