#include "core/event_loop.h"

namespace xrun {

namespace {

thread_local const EventLoop* running_loop = nullptr;

// Marks the loop as running for as long as it runs handlers (nested calls
// from a handler included), however it is left.
struct Running {
  const EventLoop* before;
  explicit Running(const EventLoop* loop) : before(running_loop) { running_loop = loop; }
  ~Running() { running_loop = before; }
};

}  // namespace

bool EventLoop::run_until(const std::function<bool()>& done) {
  Running running(this);
  io_.restart();  // a phase before may have run the context out of work
  while (!done()) {
    if (io_.run_one() > 0) continue;
    // Nothing to do now; nor later, unless the clock has a timer to move to.
    if (!time_.advance_when_idle()) return false;
    io_.restart();
  }
  return true;
}

void EventLoop::poll() {
  Running running(this);
  io_.restart();
  io_.poll();
}

const EventLoop* EventLoop::current() { return running_loop; }

}  // namespace xrun
