#include "backends/system/qmp.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

namespace xrun {

namespace asio = boost::asio;
using Clock = TimeSource::Clock;

namespace {

const nlohmann::json kIgnoreShared = {
    {"execute", "migrate-set-capabilities"},
    {"arguments", {{"capabilities", {{{"capability", "x-ignore-shared"}, {"state", true}}}}}}};

constexpr auto kRetry = std::chrono::milliseconds(2);

Error no_answer() { return make_error(ExitCode::InfraError, "QMP did not answer"); }

}  // namespace

int connect_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  ::close(fd);
  return -1;
}

QmpClient::QmpClient(asio::io_context& io, TimeSource& time) : io_(io), time_(time), socket_(io) {}

std::shared_ptr<QmpClient> QmpClient::open(asio::io_context& io, TimeSource& time, std::string path, Duration within,
                                           std::function<bool()> alive, Opened done) {
  auto client = std::make_shared<QmpClient>(io, time);
  client->path_ = std::move(path);
  client->alive_ = std::move(alive);
  client->opened_ = std::move(done);
  client->open_deadline_ = time.now() + within;
  client->retry_timer_ = time.make_timer();
  client->deadline_timer_ = time.make_timer();
  // The whole opening has one deadline: the socket, the greeting and both
  // answers. Whatever is under way then is cancelled and reports it.
  // Every handler holds the client: it lives while something is under way
  // (a timer's hold ends when it fires or is cancelled).
  client->deadline_timer_->start(within, [self = client] {
    if (!self->opened_) return;
    self->fail_open(self->socket_.is_open() ? "QMP did not answer" : "qemu's QMP socket did not appear");
  });
  // Posted: `done` never runs inside open().
  asio::post(io, [client] { client->try_connect(); });
  return client;
}

void QmpClient::fail_open(const std::string& why) {
  auto done = std::move(opened_);
  opened_ = nullptr;
  close();
  if (done) done(make_error(ExitCode::InfraError, why));
}

void QmpClient::try_connect() {
  if (!opened_) return;
  sockaddr_un addr{};
  if (path_.size() >= sizeof addr.sun_path) return fail_open("the QMP socket's path is too long: " + path_);
  socket_ = asio::local::stream_protocol::socket(io_);
  socket_.async_connect(asio::local::stream_protocol::endpoint(path_),
                        [self = shared_from_this()](const boost::system::error_code& error) {
                          if (!self->opened_ || error == asio::error::operation_aborted) return;
                          if (!error) return self->negotiate();
                          // Nothing listens yet (qemu is starting): again shortly.
                          boost::system::error_code ignored;
                          self->socket_.close(ignored);
                          if (self->alive_ && !self->alive_()) return self->fail_open("qemu exited");
                          self->retry_timer_->start(kRetry, [self] { self->try_connect(); });
                        });
}

void QmpClient::negotiate() {
  ++op_;
  // The greeting is one line of any content; then the two commands, each
  // within what is left of the opening's deadline.
  answered_ = [this, self = shared_from_this()](Expected<nlohmann::json> greeting) {
    if (!greeting) return fail_open("QMP did not answer");
    const auto left = open_deadline_ - time_.now();
    execute({{"execute", "qmp_capabilities"}}, left, [this, self](Expected<nlohmann::json> reply) {
      if (!reply) return fail_open("QMP did not answer");
      execute(kIgnoreShared, open_deadline_ - time_.now(), [this, self](Expected<nlohmann::json> set) {
        if (!set) return fail_open("QMP did not answer");
        deadline_timer_->cancel();
        pending_.clear();
        auto done = std::move(opened_);
        opened_ = nullptr;
        if (done) done(self);
      });
    });
  };
  read_reply(true);
}

void QmpClient::execute(const nlohmann::json& command, Duration within, Answered done) {
  if (closed_) {
    asio::post(io_, [done = std::move(done)] { done(no_answer()); });
    return;
  }
  answered_ = std::move(done);
  const std::uint64_t op = ++op_;
  outgoing_ = command.dump() + "\n";
  // During the opening, its own deadline covers the commands.
  if (!opened_)
    deadline_timer_->start(within, [self = shared_from_this(), op] {
      if (self->answered_ && self->op_ == op) self->finish(no_answer());
    });
  asio::async_write(socket_, asio::buffer(outgoing_),
                    [self = shared_from_this(), op](const boost::system::error_code& error, std::size_t) {
                      if (!self->answered_ || self->op_ != op) return;
                      if (error) return self->finish(no_answer());
                      self->read_reply(false);
                    });
}

void QmpClient::read_reply(bool any_line) {
  for (auto newline = pending_.find('\n'); newline != std::string::npos; newline = pending_.find('\n')) {
    auto reply = nlohmann::json::parse(pending_.substr(0, newline), nullptr, false);
    pending_.erase(0, newline + 1);
    if (any_line || (reply.is_object() && (reply.contains("return") || reply.contains("error"))))
      return finish(std::move(reply));
  }
  socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this(), any_line, op = op_](
                                                     const boost::system::error_code& error, std::size_t n) {
    // A read the command before it cancelled (its deadline passed) is not this one's.
    if (!self->answered_ || self->op_ != op) return;
    if (error) return self->finish(no_answer());
    self->pending_.append(self->buffer_.data(), n);
    self->read_reply(any_line);
  });
}

void QmpClient::finish(Expected<nlohmann::json> result) {
  auto done = std::move(answered_);
  answered_ = nullptr;
  if (!opened_) deadline_timer_->cancel();
  if (!result) {
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  }
  if (done) done(std::move(result));
}

void QmpClient::close() {
  closed_ = true;
  answered_ = nullptr;
  opened_ = nullptr;
  if (retry_timer_) retry_timer_->cancel();
  if (deadline_timer_) deadline_timer_->cancel();
  boost::system::error_code ignored;
  socket_.close(ignored);
}

Expected<std::string> migration_state(const nlohmann::json& reply) {
  // {"return": {"status": "active", ...}} or {"error": {"class": ..., "desc": ...}}
  if (!reply.is_object()) return make_error(ExitCode::InfraError, "query-migrate: not a QMP reply: " + reply.dump());
  if (auto error = reply.find("error"); error != reply.end()) {
    const std::string desc = error->is_object() && error->contains("desc") && (*error)["desc"].is_string()
                                 ? (*error)["desc"].get<std::string>()
                                 : error->dump();
    return make_error(ExitCode::InfraError, "query-migrate: qemu answered with an error: " + desc);
  }
  auto result = reply.find("return");
  if (result == reply.end() || !result->is_object())
    return make_error(ExitCode::InfraError, "query-migrate: an answer without a result: " + reply.dump());
  auto status = result->find("status");
  const std::string state = status != result->end() && status->is_string() ? status->get<std::string>() : "";
  if (state == "failed" || state == "cancelled")
    return make_error(ExitCode::InfraError, "migration " + state + ": " + reply.dump());
  return state;
}

}  // namespace xrun
