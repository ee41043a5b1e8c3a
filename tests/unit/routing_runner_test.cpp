// The routing runner over the registry's rows: each job goes to its row's
// runner, the report names the row, and signal_all() reaches every row's
// runner.
#include "backends/routing_runner.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/steady_timer.hpp>

#include "backends/registry.h"
#include "support/paths.h"

using namespace xrun;
using xrun::testing::helper;
using xrun::testing::host_helper;

namespace {

TEST(RoutingRunner, ARouteIsTheHostsRowOrTheChosenOne) {
  Config config;
  const Backend* system = parse_backend("system");
  ASSERT_NE(system, nullptr);
  EXPECT_EQ(route_program(host_helper(), std::nullopt, nullptr, config, {}).backend, &host_backend());
  // A foreign program: the default row, else what the job asked for, else --backend.
  const std::string foreign = helper("aarch64", "static");
  EXPECT_EQ(route_program(foreign, std::nullopt, nullptr, config, {}).backend, default_backend(BinaryFormat::Elf));
  EXPECT_EQ(route_program(foreign, std::nullopt, system, config, {}).backend, system);
  RoutingOptions chosen;
  chosen.backend = default_backend(BinaryFormat::Elf);
  EXPECT_EQ(route_program(foreign, std::nullopt, system, config, chosen).backend, chosen.backend);
  // A host program runs on the host whatever was chosen.
  EXPECT_EQ(route_program(host_helper(), std::nullopt, system, config, chosen).backend, &host_backend());
  // So does what is not a program xrun reads: its launcher says what is wrong.
  EXPECT_EQ(route_program("/nonexistent/program", std::nullopt, system, config, chosen).backend, &host_backend());
}

// The name a report gives a job's backend is its row's.
TEST(RoutingRunner, JobsAreNamedByTheirRow) {
  boost::asio::io_context io;
  Config config;
  RoutingRunner runner(io, config, {});
  auto a = runner.start({helper("aarch64", "static"), {"exit", "0"}, "", {}}, {[](auto) {}, [](auto&) {}});
  auto b = runner.start({host_helper(), {"exit", "0"}, "", {}}, {[](auto) {}, [](auto&) {}});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->backend, default_backend(BinaryFormat::Elf)->name);
  EXPECT_EQ(a->backend, "qemu-user");
  EXPECT_EQ(b->backend, host_backend().name);
  EXPECT_EQ(b->backend, "native");
  io.run();
}

// signal_all() reaches the jobs of every row's runner (issue 26: it once
// forgot the boards' and Ctrl-C while listing on a board waited 300 s).
TEST(RoutingRunner, SignalAllReachesEveryRowsJobs) {
  boost::asio::io_context io;
  Config config;
  RoutingRunner runner(io, config, {});
  std::vector<JobExit> ends;
  const auto on_exit = [&](const JobExit& exit) { ends.push_back(exit); };
  auto a = runner.start({helper("aarch64", "static"), {"sleep", "60000"}, "", {}}, {[](auto) {}, on_exit});
  auto b = runner.start({host_helper(), {"sleep", "60000"}, "", {}}, {[](auto) {}, on_exit});
  ASSERT_TRUE(a && b);
  ASSERT_NE(a->backend, b->backend);
  runner.signal_all(SIGKILL);
  boost::asio::steady_timer give_up(io, std::chrono::seconds(60));
  give_up.async_wait([&](const auto& error) {
    if (!error) io.stop();
  });
  while (ends.size() < 2 && io.run_one() > 0) {
  }
  ASSERT_EQ(ends.size(), 2u) << "signal_all did not reach every row's job";
  for (const auto& end : ends) {
    EXPECT_TRUE(end.signaled);
    EXPECT_EQ(end.signal, SIGKILL);
  }
}

}  // namespace
