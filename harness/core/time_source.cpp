#include "core/time_source.h"

#include <boost/asio/steady_timer.hpp>

namespace xrun {

namespace {

class SteadyTimer final : public TimeSource::Timer {
 public:
  explicit SteadyTimer(boost::asio::io_context& io) : timer_(io) {}
  void start(TimeSource::Clock::duration delay, std::function<void()> fire) override {
    timer_.expires_after(delay);  // what was pending ends with operation_aborted
    timer_.async_wait([fire = std::move(fire)](const boost::system::error_code& error) {
      if (!error) fire();
    });
  }
  void cancel() override { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

class SteadyTime final : public TimeSource {
 public:
  explicit SteadyTime(boost::asio::io_context& io) : io_(io) {}
  Clock::time_point now() const override { return Clock::now(); }
  std::unique_ptr<Timer> make_timer() override { return std::make_unique<SteadyTimer>(io_); }

 private:
  boost::asio::io_context& io_;
};

}  // namespace

std::unique_ptr<TimeSource> steady_time(boost::asio::io_context& io) { return std::make_unique<SteadyTime>(io); }

}  // namespace xrun
