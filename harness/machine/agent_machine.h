// The life every machine that runs xrun's agent shares, written once: start
// until the agent answers HELLO (or a deadline passes), serve jobs through
// its AgentSession, and end -- asked to (kill()), or on its own (the agent's
// channel broke, the agent stopped answering, the machine's process died).
// An end on its own becomes the message every job still running ends with
// as an infra error, with the machine's last console or log lines, and is
// told once: to the start's handler when it was not ready yet, else to
// Machine::on_death.
//
// A kind of machine supplies only its specifics: how it comes up (launch():
// qemu-system and its virtio-serial socket, an ssh link to a board) and ends
// (stop()), and what its death says (last_words(): a VM's console, what ssh
// said). It hands the agent's byte stream to open_session().
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "machine/agent_session.h"
#include "machine/machine.h"

namespace xrun {

class AgentMachine : public Machine, public std::enable_shared_from_this<AgentMachine> {
 public:
  ~AgentMachine() override;

  // Brings it up (launch()); `ready` runs once: when the agent answered, or
  // with why not -- never from inside start().
  void start(ReadyHandler ready) final;
  AgentSession* session() final { return ready_ && !dead_ ? session_.get() : nullptr; }
  // Ends it now: stop(), and every job still running ends with an infra
  // error naming `reason`; on_death does not run.
  void kill(const std::string& reason) final;
  bool alive() const final { return !dead_; }
  bool ready() const final { return ready_; }

 protected:
  explicit AgentMachine(boost::asio::io_context& io);

  // Starts the machine. It calls open_session() once the agent's stream is
  // there, or fail_start() / die() with why not.
  virtual void launch() = 0;
  // Ends what launch() started (a process killed and reaped, a link cut).
  // Runs once, from die(), before the jobs are told.
  virtual void stop() = 0;
  // The message a death for `reason` ends the jobs with: which machine, and
  // its last console or log lines.
  virtual std::string last_words(const std::string& reason) = 0;
  // The agent answered HELLO (`release`: its kernel's), just before the
  // start's handler hears it.
  virtual void became_ready(const std::string& release) { (void)release; }
  // The ready deadline passed; die() follows with its message.
  virtual void ready_deadline_passed() {}

  struct Hello {
    std::uint32_t nonce = 0;
    bool send_clock = false;  // AgentSession::hello()
  };
  // The agent's session over `read_fd`/`write_fd` (taken over; the same one
  // twice for a socket), and its HELLO sent. `log`: the agent's LOG frames.
  void open_session(int read_fd, int write_fd, AgentSession::Options options, Hello hello,
                    std::function<void(std::string_view)> log = nullptr);
  // Not ready within `seconds` from now: the machine dies with `why`. A
  // later call moves the deadline (a board waiting for another run's lock).
  void ready_within(double seconds, std::string why);
  // The start failed before anything ran: the handler hears `error` on the
  // next turn of the loop (the pool stores the machine before any handler
  // runs), and nothing is stopped.
  void fail_start(const std::string& error);
  // Ends it on its own: stop(), then the jobs, the start's handler or
  // on_death hear last_words(reason), which this returns.
  std::string die(const std::string& reason);

  // Asked to end (kill()), not a failure: a VM's console log is not kept.
  bool killed() const { return killed_; }
  bool dead() const { return dead_; }
  std::chrono::steady_clock::time_point started_at() const { return started_at_; }

  // A weak pointer to this machine as its own type, for handlers.
  template <class Derived>
  std::weak_ptr<Derived> weak_as() {
    return std::static_pointer_cast<Derived>(shared_from_this());
  }

  boost::asio::io_context& io_;

 private:
  ReadyHandler ready_handler_;
  bool ready_ = false, dead_ = false, killed_ = false;
  std::shared_ptr<AgentSession> session_;
  boost::asio::steady_timer ready_timer_;
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace xrun
