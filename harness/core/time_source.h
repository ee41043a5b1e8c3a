// Time as the scheduler and the report files see it: the clock durations are
// read from, and one-shot timers whose callbacks run on the io_context. In
// xrun it is the steady clock and asio's steady_timer (steady_time()); unit
// tests give a clock that moves only when nothing else can happen
// (tests/support/manual_time.h), so that a test of a timeout neither waits
// for it nor depends on how fast the machine is.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace xrun {

class TimeSource {
 public:
  using Clock = std::chrono::steady_clock;

  class Timer {
   public:
    virtual ~Timer() = default;
    // Calls `fire` on the io_context once `delay` has passed, instead of
    // what was pending. Destroying the timer cancels it.
    virtual void start(Clock::duration delay, std::function<void()> fire) = 0;
    virtual void cancel() = 0;
  };

  virtual ~TimeSource() = default;
  virtual Clock::time_point now() const = 0;
  virtual std::unique_ptr<Timer> make_timer() = 0;
  // Called by a loop that found nothing to do on its io_context: a test's
  // clock moves to its next timer and queues it (true). Real time returns
  // false: its timers are the io_context's own work, so there was none.
  virtual bool advance_when_idle() { return false; }
};

// The steady clock; timers on `io`.
std::unique_ptr<TimeSource> steady_time(boost::asio::io_context& io);

}  // namespace xrun
