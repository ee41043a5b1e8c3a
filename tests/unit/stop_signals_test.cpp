// Ctrl-C and SIGTERM reach the loop through StopSignals, and are counted
// where a long rewrite can see them without returning to the loop.
#include "core/stop_signals.h"

#include <gtest/gtest.h>

#include <csignal>
#include <vector>

using namespace xrun;

namespace {

TEST(StopSignals, CountsEachSignalAndHandsItToTheLoop) {
  boost::asio::io_context io;
  std::vector<int> seen;
  auto signals = StopSignals::install(io, [&](int signal) { seen.push_back(signal); });
  ASSERT_TRUE(signals) << signals.error().message;
  const auto before = stop_signals_received();
  ASSERT_EQ(::raise(SIGTERM), 0);
  EXPECT_EQ(stop_signals_received(), before + 1) << "counted in the handler, before the loop runs";
  ASSERT_EQ(::raise(SIGINT), 0);
  EXPECT_EQ(stop_signals_received(), before + 2);
  EXPECT_TRUE(seen.empty()) << "handlers run on the loop, not in the signal handler";
  while (seen.size() < 2) ASSERT_EQ(io.run_one(), 1u);
  EXPECT_EQ(seen, (std::vector<int>{SIGTERM, SIGINT}));
}

// What was there before (here: SIGHUP ignored, as nohup leaves it) comes
// back when the StopSignals goes.
TEST(StopSignals, PutsThePreviousDispositionsBack) {
  struct sigaction ignore {
  }, saved{}, now{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGHUP, &ignore, &saved), 0);
  {
    boost::asio::io_context io;
    auto signals = StopSignals::install(io, [](int) {});
    ASSERT_TRUE(signals);
    ::sigaction(SIGHUP, nullptr, &now);
    EXPECT_NE(now.sa_handler, SIG_IGN);
  }
  ::sigaction(SIGHUP, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_IGN);
  ::sigaction(SIGHUP, &saved, nullptr);
}

}  // namespace
