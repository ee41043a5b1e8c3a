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

Route route_program_or_die(const std::string& program, const std::optional<std::string>& target,
                           const Backend* requested, const Config& config, const RoutingOptions& options) {
  auto route = route_program(program, target, requested, config, options);
  EXPECT_TRUE(route) << route.error().message;
  return route ? *route : Route{&host_backend(), nullptr, nullptr};
}

TEST(RoutingRunner, ARouteIsTheHostsRowOrTheChosenOne) {
  Config config;
  const Backend* system = parse_backend("system");
  ASSERT_NE(system, nullptr);
  EXPECT_EQ(route_program_or_die(host_helper(), std::nullopt, nullptr, config, {}).backend, &host_backend());
  // A foreign program: the default row, else what the job asked for, else --backend.
  const std::string foreign = helper("aarch64", "static");
  EXPECT_EQ(route_program_or_die(foreign, std::nullopt, nullptr, config, {}).backend,
            default_backend(BinaryFormat::Elf));
  EXPECT_EQ(route_program_or_die(foreign, std::nullopt, system, config, {}).backend, system);
  RoutingOptions chosen;
  chosen.backend = default_backend(BinaryFormat::Elf);
  EXPECT_EQ(route_program_or_die(foreign, std::nullopt, system, config, chosen).backend, chosen.backend);
  // A host program runs on the host whatever was chosen.
  EXPECT_EQ(route_program_or_die(host_helper(), std::nullopt, system, config, chosen).backend, &host_backend());
  // So does what is not a program xrun reads: its launcher says what is wrong.
  EXPECT_EQ(route_program_or_die("/nonexistent/program", std::nullopt, system, config, chosen).backend,
            &host_backend());
}

// A format the probe knows but no row runs is refused, saying what the file
// is; the routing runner refuses it before any job (discovery asks).
TEST(RoutingRunner, AFormatNoRowRunsIsRefusedSayingWhatItIs) {
  Config config;
  for (const Backend* chosen : {static_cast<const Backend*>(nullptr), parse_backend("system")}) {
    RoutingOptions options;
    options.backend = chosen;
    auto exe = route_program(XRUN_PROBE_PE_EXE, std::nullopt, nullptr, config, options);
    ASSERT_FALSE(exe);
    EXPECT_EQ(exe.error().code, ExitCode::CannotExecute);
    EXPECT_EQ(exe.error().message,
              std::string(XRUN_PROBE_PE_EXE) +
                  " is a Windows PE x86-64 program (console); no backend runs Windows programs yet");
    auto wasm = route_program(XRUN_PROBE_WASM, std::nullopt, nullptr, config, options);
    ASSERT_FALSE(wasm);
    EXPECT_NE(wasm.error().message.find("no backend runs WebAssembly modules yet"), std::string::npos);
  }
  boost::asio::io_context io;
  RoutingRunner runner(io, config, {});
  EXPECT_FALSE(runner.admits({XRUN_PROBE_WASM, {}, "", {}}));
  EXPECT_FALSE(runner.start({XRUN_PROBE_WASM, {}, "", {}}, {[](auto) {}, [](auto&) {}}));
  EXPECT_TRUE(runner.admits({helper("aarch64", "static"), {}, "", {}}));
  // Scripts and files of no known format still go to the host, whose launcher
  // runs them or says what is wrong.
  EXPECT_EQ(route_program_or_die("/bin/sh", std::nullopt, nullptr, config, {}).backend, &host_backend());
  EXPECT_EQ(route_program_or_die(XRUN_SOURCE_DIR "/scripts/test.sh", std::nullopt, nullptr, config, {}).backend,
            &host_backend());
  EXPECT_EQ(route_program_or_die(XRUN_SOURCE_DIR "/README.md", std::nullopt, nullptr, config, {}).backend,
            &host_backend());
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
