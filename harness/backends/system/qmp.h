// qemu's machine protocol (QMP) over its unix socket, asynchronous on the
// run's io_context: the few commands that save a VM's state and restore it
// (saved_state.h, vm.h). The connection is retried on a timer while qemu
// starts; every step has a deadline on a TimeSource (core/time_source.h),
// so nothing waits in place and unit tests run it on a manual clock.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/expected.h"
#include "core/time_source.h"

namespace xrun {

// A connected unix stream socket; -1 when nothing listens at `path` yet
// (connect(2) on a unix socket does not wait).
int connect_unix(const std::string& path);

class QmpClient : public std::enable_shared_from_this<QmpClient> {
 public:
  using Duration = TimeSource::Clock::duration;
  using Opened = std::function<void(Expected<std::shared_ptr<QmpClient>>)>;
  using Answered = std::function<void(Expected<nlohmann::json>)>;

  // Connects to qemu's QMP socket at `path`, trying again every 2 ms on
  // `time` while nothing listens there yet and `alive()` says qemu still
  // runs, reads its greeting, negotiates and sets the x-ignore-shared
  // capability (the RAM stays in its memory-backend file: only device state
  // is migrated); all within `within`. `done` runs on `io`, never inside
  // open(): with the client, or an Error ("qemu's QMP socket did not
  // appear", "qemu exited", "QMP did not answer"). `time` must outlive the
  // client. Returns the client being opened: close() ends the opening too.
  static std::shared_ptr<QmpClient> open(boost::asio::io_context& io, TimeSource& time, std::string path,
                                         Duration within, std::function<bool()> alive, Opened done);

  // One command, answered within `within`; asynchronous events are skipped.
  // The reply is qemu's object with its "return" or its "error"; an Error
  // when none came in time or the socket closed. One command at a time.
  void execute(const nlohmann::json& command, Duration within, Answered done);

  // Closes the socket: a command under way gets no answer (its `done` is
  // not called).
  void close();

  QmpClient(boost::asio::io_context& io, TimeSource& time);  // through open()

 private:
  void try_connect();
  void negotiate();
  void read_reply(bool any_line);
  void finish(Expected<nlohmann::json> result);
  void fail_open(const std::string& why);

  boost::asio::io_context& io_;
  TimeSource& time_;
  boost::asio::local::stream_protocol::socket socket_;
  std::string path_;
  std::function<bool()> alive_;
  Opened opened_;
  TimeSource::Clock::time_point open_deadline_{};
  std::unique_ptr<TimeSource::Timer> retry_timer_, deadline_timer_;
  std::string pending_;  // read past the last answer
  std::array<char, 4096> buffer_{};
  std::string outgoing_;
  Answered answered_;     // the command under way
  std::uint64_t op_ = 0;  // which one: a handler of one before it is stale
  bool closed_ = false;
};

// The migration's state from a QMP query-migrate reply ("active",
// "completed", ...); an Error for an error reply, a failed or cancelled
// migration, or a reply that is not one (exposed for unit tests).
Expected<std::string> migration_state(const nlohmann::json& reply);

}  // namespace xrun
