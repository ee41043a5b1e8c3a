// A test whose timeout fired and that reports its result while it is being
// terminated (its "[ OK ]" line was on its way when the timer went off, or
// it finished in the grace period) is timed out. Its late report used to
// count as its end without giving it a result: the test was then written off
// as "not run: internal error: the test never finished".
//
// The scheduler's timeout runs on a ManualTime (no real time passes); the
// runner does the rest on the same io_context, without timers.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <sstream>

#include "engine/scheduler.h"
#include "support/manual_time.h"

namespace xrun {
namespace {

// A GoogleTest binary in which A.slow runs until SIGTERM, and reports
// passing when SIGTERM arrives; every other test passes at once.
class ReportsWhenTerminated final : public JobRunner {
 public:
  explicit ReportsWhenTerminated(boost::asio::io_context& io) : io_(io) {}

  Expected<JobStarted> start(const JobRequest& request, Callbacks callbacks) override {
    auto job = std::make_shared<Job>();
    job->id = next_id_++;
    job->callbacks = std::move(callbacks);
    for (const auto& arg : request.args) {
      if (arg.rfind("--gtest_filter=", 0) != 0) continue;
      std::stringstream names(arg.substr(15));
      for (std::string name; std::getline(names, name, ':');) job->tests.push_back(name);
    }
    jobs_[job->id] = job;
    boost::asio::post(io_, [this, job] { run(job); });
    return JobStarted{job->id, "fake"};
  }
  void signal(JobId id, int sig) override {
    auto it = jobs_.find(id);
    if (it == jobs_.end() || !it->second->in_slow) return;
    auto job = it->second;
    job->callbacks.output("[       OK ] A.slow (1 ms)\n");
    end(job, JobExit{true, 0, sig});
  }
  void signal_all(int sig) override {
    for (const auto& [id, job] : std::map(jobs_)) signal(id, sig);
  }
  void shutdown() override {}
  void send_stdin(JobId, std::string_view) override {}

 private:
  struct Job {
    JobId id = 0;
    Callbacks callbacks;
    std::vector<std::string> tests;
    bool in_slow = false;
  };
  // In one turn of the loop, so that no other test is open to the timeout:
  // every test up to A.slow, or to the end and the exit.
  void run(const std::shared_ptr<Job>& job) {
    for (const auto& name : job->tests) {
      job->callbacks.output("[ RUN      ] " + name + "\n");
      if (name == "A.slow") {
        job->in_slow = true;  // until SIGTERM
        return;
      }
      job->callbacks.output("[       OK ] " + name + " (0 ms)\n");
    }
    jobs_.erase(job->id);
    job->callbacks.exited(JobExit{});
  }
  void end(const std::shared_ptr<Job>& job, JobExit exit) {
    jobs_.erase(job->id);
    boost::asio::post(io_, [job, exit] { job->callbacks.exited(exit); });
  }

  boost::asio::io_context& io_;
  std::map<JobId, std::shared_ptr<Job>> jobs_;
  JobId next_id_ = 1;
};

std::vector<TestCase> gtest_cases(const std::vector<std::string>& names) {
  std::vector<TestCase> tests;
  for (const auto& name : names) {
    TestCase test;
    test.binary = "/build/suite_tests";
    test.name = name;
    test.kind = TestKind::GTest;
    tests.push_back(test);
  }
  return tests;
}

std::vector<TestResult> run(Isolation isolation, const std::vector<std::string>& names) {
  boost::asio::io_context io;
  xrun::testing::ManualTime time(io);
  ReportsWhenTerminated runner(io);
  Reporter reporter;
  SchedulerOptions options;
  options.time = &time;
  options.isolation = isolation;
  options.timeout_seconds = 30;
  Scheduler scheduler(io, runner, reporter, options);
  return scheduler.run(gtest_cases(names));
}

TEST(SchedulerGrace, ATestThatReportsWhileTerminatedAfterItsTimeoutTimedOut) {
  const auto results = run(Isolation::Process, {"A.slow"});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(status_name(results[0].status), status_name(Status::TimedOut)) << results[0].message;
  EXPECT_EQ(results[0].message.rfind("timed out after ", 0), 0u) << results[0].message;
  EXPECT_EQ(results[0].attempts, 1);
}

TEST(SchedulerGrace, InAShardTheRestRunsAgainInAFreshProcess) {
  const auto results = run(Isolation::Batch, {"A.first", "A.slow", "A.next"});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(status_name(results[0].status), status_name(Status::Passed)) << results[0].message;
  EXPECT_EQ(status_name(results[1].status), status_name(Status::TimedOut)) << results[1].message;
  EXPECT_EQ(status_name(results[2].status), status_name(Status::Passed)) << results[2].message;
}

}  // namespace
}  // namespace xrun
