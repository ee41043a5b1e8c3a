#include "machine/agent_machine.h"

#include <boost/asio/post.hpp>
#include <utility>

namespace xrun {

namespace asio = boost::asio;

AgentMachine::AgentMachine(asio::io_context& io) : io_(io), ready_timer_(io) {}

// A kind's own destructor has ended what it started (stop() cannot be
// called from here: that part of the object is gone).
AgentMachine::~AgentMachine() {
  if (session_) session_->close("the machine is no longer used");
}

void AgentMachine::start(ReadyHandler ready) {
  ready_handler_ = std::move(ready);
  started_at_ = std::chrono::steady_clock::now();
  launch();
}

void AgentMachine::fail_start(const std::string& error) {
  dead_ = true;
  asio::post(io_, [self = shared_from_this(), error] {
    if (auto handler = std::exchange(self->ready_handler_, nullptr)) handler(machine_error(error));
  });
}

void AgentMachine::ready_within(double seconds, std::string why) {
  ready_timer_.expires_after(std::chrono::milliseconds(static_cast<long>(seconds * 1000)));
  ready_timer_.async_wait([weak = weak_from_this(), why = std::move(why)](const auto& error) {
    auto self = weak.lock();
    if (error || !self || self->ready_ || self->dead_) return;
    self->ready_deadline_passed();
    self->die(why);
  });
}

void AgentMachine::open_session(int read_fd, int write_fd, AgentSession::Options options, Hello hello,
                                std::function<void(std::string_view)> log) {
  AgentSession::Events events;
  events.ready = [weak = weak_from_this()](const std::string& release) {
    auto self = weak.lock();
    if (!self || self->ready_ || self->dead_) return;
    self->ready_ = true;
    self->ready_timer_.cancel();
    self->became_ready(release);
    if (auto handler = std::exchange(self->ready_handler_, nullptr)) handler({});
  };
  events.closed = [weak = weak_from_this()](const std::string& reason) {
    auto self = weak.lock();
    return self ? self->die(reason) : reason;
  };
  events.log = std::move(log);
  session_ = AgentSession::open(io_, read_fd, write_fd, std::move(options), std::move(events));
  session_->hello(hello.nonce, hello.send_clock);
}

void AgentMachine::kill(const std::string& reason) {
  killed_ = true;
  on_death = nullptr;
  die(reason);
}

std::string AgentMachine::die(const std::string& reason) {
  if (dead_) return reason;
  dead_ = true;
  auto self = shared_from_this();  // whoever hears of the death may drop the last reference
  stop();
  ready_timer_.cancel();
  const std::string message = last_words(reason);
  // Its jobs end with this message (a no-op when the session ended first);
  // then whoever waits for the machine hears it.
  if (session_) session_->close(message);
  if (auto handler = std::exchange(ready_handler_, nullptr)) {
    handler(machine_error(message));
    return message;
  }
  if (auto death = std::exchange(on_death, nullptr)) death(message);
  return message;
}

}  // namespace xrun
