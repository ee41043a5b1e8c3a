#include "support/manual_time.h"

#include <boost/asio/post.hpp>
#include <functional>

namespace xrun::testing {

// A timer's state: its callback, and a number that each start and cancel
// changes, so that an entry for an earlier start never fires.
struct ManualTime::Slot {
  std::uint64_t start = 0;
  std::function<void()> fire;
};

class ManualTime::ManualTimer final : public TimeSource::Timer {
 public:
  explicit ManualTimer(ManualTime& time) : time_(time), slot_(std::make_shared<Slot>()) {}
  ~ManualTimer() override { cancel(); }
  void start(Clock::duration delay, std::function<void()> fire) override {
    ++slot_->start;
    slot_->fire = std::move(fire);
    time_.schedule(time_.now_ + std::max(delay, Clock::duration::zero()), slot_);
  }
  // Even once its callback is posted, as long as it has not run.
  void cancel() override {
    ++slot_->start;
    slot_->fire = nullptr;
  }

 private:
  ManualTime& time_;
  std::shared_ptr<Slot> slot_;
};

std::unique_ptr<TimeSource::Timer> ManualTime::make_timer() { return std::make_unique<ManualTimer>(*this); }

void ManualTime::schedule(Clock::time_point at, const std::shared_ptr<Slot>& slot) {
  timers_.emplace(std::pair{at, order_++}, std::pair{std::weak_ptr<Slot>(slot), slot->start});
  post_due();  // a timer due now fires as soon as the loop gets to it
}

void ManualTime::drop_stale() {
  for (auto it = timers_.begin(); it != timers_.end();) {
    auto slot = it->second.first.lock();
    it = !slot || slot->start != it->second.second ? timers_.erase(it) : std::next(it);
  }
}

void ManualTime::post_due() {
  while (!timers_.empty() && timers_.begin()->first.first <= now_) {
    auto [weak, start] = timers_.begin()->second;
    timers_.erase(timers_.begin());
    boost::asio::post(io_, [weak = std::move(weak), start = start] {
      auto slot = weak.lock();
      if (!slot || slot->start != start) return;  // cancelled, started again, or gone
      auto fire = std::move(slot->fire);
      slot->fire = nullptr;
      ++slot->start;  // one-shot
      if (fire) fire();
    });
  }
}

bool ManualTime::advance_when_idle() {
  drop_stale();
  if (timers_.empty()) return false;
  now_ = std::max(now_, timers_.begin()->first.first);
  post_due();
  return true;
}

void ManualTime::advance(Clock::duration by) {
  now_ += by;
  post_due();
}

void ManualTime::run() {
  do {
    io_.restart();
    io_.run();
  } while (advance_when_idle());
}

std::size_t ManualTime::pending() {
  drop_stale();
  return timers_.size();
}

}  // namespace xrun::testing
