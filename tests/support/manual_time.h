// A clock for unit tests (core/time_source.h) that moves only when told to,
// or when the loop has nothing else to do: then it jumps to its next timer.
// A test of a 30 s timeout takes no time and gives the same result on a
// loaded machine as on an idle one; durations are exactly what the test
// made them. It starts at the clock's epoch.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>

#include "core/time_source.h"

namespace xrun::testing {

class ManualTime final : public TimeSource {
 public:
  explicit ManualTime(boost::asio::io_context& io) : io_(io) {}

  Clock::time_point now() const override { return now_; }
  std::unique_ptr<Timer> make_timer() override;
  // To the earliest timer still pending, whose callback (and those of every
  // timer due then) is posted to the io_context; false when none is.
  bool advance_when_idle() override;

  // Moves the clock by `by`, posting the callbacks of the timers due by then.
  void advance(Clock::duration by);
  // Runs the io_context until nothing is left to do, now or later (the
  // clock moving to each timer in turn), as a loop that drives this clock
  // does (Scheduler::run).
  void run();
  // Timers started and neither fired nor cancelled.
  std::size_t pending();

 private:
  struct Slot;
  class ManualTimer;
  void schedule(Clock::time_point at, const std::shared_ptr<Slot>& slot);
  void drop_stale();
  void post_due();

  boost::asio::io_context& io_;
  Clock::time_point now_{};
  std::uint64_t order_ = 0;
  // By deadline, then by start: the timer and the start it was for.
  std::map<std::pair<Clock::time_point, std::uint64_t>, std::pair<std::weak_ptr<Slot>, std::uint64_t>> timers_;
};

}  // namespace xrun::testing
