// The scheduler against a runner that can start nothing: every test is an
// infra error, and trying one unit after another is a loop, not a recursion
// (a unit that could not start used to call pump() again from inside pump():
// a frame pair per unit, and a stack overflow long before 200,000).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <map>

#include "engine/scheduler.h"

namespace xrun {
namespace {

class UnstartableRunner final : public JobRunner {
 public:
  std::size_t starts = 0;
  Expected<JobStarted> start(const JobRequest&, Callbacks) override {
    ++starts;
    return make_error(ExitCode::InfraError, "qemu-aarch64 not found");
  }
  void signal(JobId, int) override {}
  void signal_all(int) override {}
  void shutdown() override {}
  void send_stdin(JobId, std::string_view) override {}
};

class CountingReporter final : public Reporter {
 public:
  std::map<Status, std::size_t> by_status;
  void on_result(const TestResult& result) override { ++by_status[result.status]; }
};

std::vector<TestCase> tests_of(std::size_t count, TestKind kind) {
  std::vector<TestCase> tests(count);
  for (std::size_t i = 0; i < count; ++i) {
    tests[i].binary = "/build/t" + std::to_string(i % 7);
    tests[i].name = kind == TestKind::Plain ? "t" + std::to_string(i) : "Suite.T" + std::to_string(i);
    tests[i].kind = kind;
  }
  return tests;
}

TEST(SchedulerStartFailure, TwoHundredThousandUnitsThatCannotStartEndTheRun) {
  constexpr std::size_t kUnits = 200'000;
  boost::asio::io_context io;
  UnstartableRunner runner;
  CountingReporter reporter;
  SchedulerOptions options;
  options.jobs = 2;
  options.isolation = Isolation::Process;
  options.retries = 2;  // infra errors are not retried
  Scheduler scheduler(io, runner, reporter, options);
  const auto results = scheduler.run(tests_of(kUnits, TestKind::Plain));
  ASSERT_EQ(results.size(), kUnits);
  EXPECT_EQ(runner.starts, kUnits);
  EXPECT_EQ(reporter.by_status[Status::InfraError], kUnits);
  EXPECT_EQ(results.front().message, "qemu-aarch64 not found");
  EXPECT_EQ(results.back().status, Status::InfraError);
  EXPECT_EQ(results.back().attempts, 1);
  EXPECT_FALSE(scheduler.internal_error());
}

// The same in batch mode, with a group that holds its tests back: each
// shard's tests are infra errors, and a full group does not stop the loop.
TEST(SchedulerStartFailure, ShardsAndGroupsThatCannotStartEndTheRunToo) {
  boost::asio::io_context io;
  UnstartableRunner runner;
  CountingReporter reporter;
  SchedulerOptions options;
  options.jobs = 2;
  options.groups = {TestGroupRule{"odd", {"*1", "*3", "*5", "*7", "*9"}, {}, 1}};
  Scheduler scheduler(io, runner, reporter, options);
  const auto results = scheduler.run(tests_of(1000, TestKind::GTest));
  EXPECT_EQ(reporter.by_status[Status::InfraError], 1000u);
  EXPECT_EQ(runner.starts, 7u * 3);  // 7 binaries: a shard per job slot out of the group, one in it
}

}  // namespace
}  // namespace xrun
