// The one driver of a run's io_context. `xrun test` makes one EventLoop and
// hands it to each phase -- discovery's listing jobs, then the scheduler's
// run -- which add their work to the io_context and ask the loop to run
// until their phase is over; none of them runs the io_context itself. A
// handler can see which loop runs it (current()), which is how the unit
// tests check that listing and running are phases of the same loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>

#include "core/time_source.h"

namespace xrun {

class EventLoop {
 public:
  EventLoop(boost::asio::io_context& io, TimeSource& time) : io_(io), time_(time) {}
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  boost::asio::io_context& io() { return io_; }
  // The clock the phases' timers run on; when the io_context has nothing
  // to do, a test's clock moves to its next timer (TimeSource::advance_when_idle).
  TimeSource& time() { return time_; }

  // Runs handlers until `done()`: true then; false when nothing is left
  // that could make it so (no work, no timer). An exception out of a
  // handler leaves through here, the loop ready to run again.
  bool run_until(const std::function<bool()>& done);
  // Runs what is ready now, without waiting (a cancelled timer's handler).
  void poll();

  // The loop whose run_until() or poll() is running handlers on this
  // thread; nullptr outside of them.
  static const EventLoop* current();

 private:
  boost::asio::io_context& io_;
  TimeSource& time_;
};

}  // namespace xrun
