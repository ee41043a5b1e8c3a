// A board's reset command on the loop (harness/backends/board/reset_command.h):
// its output and status come back as handlers, its limit is a timer on a
// manual clock, and it needs no thread.
#include "backends/board/reset_command.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/post.hpp>
#include <filesystem>
#include <optional>

#include "support/manual_time.h"
#include "support/temp_dir.h"

namespace xrun {
namespace {

namespace asio = boost::asio;

std::size_t threads_of_this_process() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// Runs the loop until `done`: handlers first, then the manual clock's next
// timer, else a wait for the next event (the child's output or end).
template <class Done>
void run_until(asio::io_context& io, testing::ManualTime& time, const Done& done) {
  while (!done()) {
    io.restart();
    if (io.poll() > 0 || time.advance_when_idle()) continue;
    io.restart();
    if (io.run_one() == 0) break;
  }
}

TEST(ResetCommand, ItsStatusAndWhatItSaidComeBackOnTheLoopWithoutAThread) {
  testing::TempDir dir;
  asio::io_context io;
  testing::ManualTime time(io);
  const std::size_t threads = threads_of_this_process();
  std::optional<ResetResult> result;
  auto reset = run_reset_command(io, time, "echo powered off; echo relay stuck >&2; exit 3", dir.path() + "/reset.log",
                                 std::chrono::seconds(300), [&](ResetResult r) { result = std::move(r); });
  EXPECT_EQ(threads_of_this_process(), threads);  // nothing waits for it in a thread
  bool other_work = false;
  asio::post(io, [&] { other_work = true; });
  // Real events only (its output, its end): the manual clock stays put.
  while (!result && io.run_one() > 0) {
  }
  EXPECT_TRUE(other_work);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->started);
  EXPECT_FALSE(result->timed_out);
  EXPECT_EQ(result->status, 3);
  EXPECT_EQ(result->said, "powered off\nrelay stuck\n");
  EXPECT_EQ(time.now().time_since_epoch(), std::chrono::seconds(0));
}

TEST(ResetCommand, OneThatDoesNotFinishIsKilledAtItsLimit) {
  testing::TempDir dir;
  asio::io_context io;
  testing::ManualTime time(io);
  std::optional<ResetResult> result;
  auto reset = run_reset_command(io, time, "echo cycling; exec sleep 600", dir.path() + "/reset.log",
                                 std::chrono::seconds(300), [&](ResetResult r) { result = std::move(r); });
  run_until(io, time, [&] { return result.has_value(); });
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->timed_out);
  EXPECT_EQ(result->status, 128 + SIGKILL);
  EXPECT_EQ(time.now().time_since_epoch(), std::chrono::seconds(300));
}

// A run that ends while a reset is under way kills it: no command is left.
TEST(ResetCommand, CancelledItIsKilledAndItsAnswerNeverComes) {
  testing::TempDir dir;
  asio::io_context io;
  testing::ManualTime time(io);
  bool answered = false;
  auto reset = run_reset_command(io, time, "exec sleep 600", dir.path() + "/reset.log", std::chrono::seconds(300),
                                 [&](ResetResult) { answered = true; });
  reset->cancel();
  run_until(io, time, [] { return false; });
  EXPECT_FALSE(answered);
  EXPECT_EQ(time.pending(), 0u);
}

}  // namespace
}  // namespace xrun
