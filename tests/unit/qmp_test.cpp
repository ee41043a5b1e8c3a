// The QMP client (harness/backends/system/qmp.h) against a fake qemu on the
// same io_context, on a manual clock: its retries and deadlines take no
// time, and whatever else the loop has to do runs while it waits.
#include "backends/system/qmp.h"

#include <gtest/gtest.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/manual_time.h"
#include "support/temp_dir.h"

namespace xrun {
namespace {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;
using std::chrono::milliseconds;

// qemu's end of QMP: a greeting, then for each command an event (which the
// client skips) and an answer; none for "x-unanswered".
class FakeQmp {
 public:
  FakeQmp(asio::io_context& io, std::string path, bool greets)
      : acceptor_(io, stream::endpoint(path)), greets_(greets) {
    acceptor_.async_accept([this](const boost::system::error_code& error, stream::socket socket) {
      if (error) return;
      socket_.emplace(std::move(socket));
      if (greets_)
        send(R"({"QMP": {"version": {}, "capabilities": []}})"
             "\n");
      read();
    });
  }
  std::vector<std::string> commands;  // "execute" of each, in order
  std::string status = "completed";   // query-migrate's answer

 private:
  void send(std::string text) {
    auto kept = std::make_shared<std::string>(std::move(text));
    asio::async_write(*socket_, asio::buffer(*kept), [kept](auto, std::size_t) {});
  }
  void read() {
    asio::async_read_until(*socket_, asio::dynamic_buffer(in_), '\n',
                           [this](const boost::system::error_code& error, std::size_t n) {
                             if (error) return;
                             auto command = nlohmann::json::parse(in_.substr(0, n));
                             in_.erase(0, n);
                             const std::string name = command["execute"];
                             commands.push_back(name);
                             if (name == "x-unanswered") return read();
                             nlohmann::json answer = {{"return", nlohmann::json::object()}};
                             if (name == "query-migrate") answer["return"]["status"] = status;
                             send(R"({"event": "RESUME", "timestamp": {}})"
                                  "\n" +
                                  answer.dump() + "\n");
                             read();
                           });
  }
  stream::acceptor acceptor_;
  std::optional<stream::socket> socket_;
  std::string in_;
  bool greets_;
};

// Runs the loop until `done`, the manual clock moving to its next timer
// whenever nothing else can happen (never waits for real time).
template <class Done>
void run_until(asio::io_context& io, testing::ManualTime& time, const Done& done) {
  while (!done()) {
    io.restart();
    if (io.poll() == 0 && !time.advance_when_idle()) break;
  }
}

// qemu creates its QMP socket some time after it started: the client tries
// again on a timer, and the loop runs other work meanwhile (the blocking
// version slept in place between attempts).
TEST(QmpClient, ConnectsOnceTheSocketAppearsWithoutHoldingUpTheLoop) {
  testing::TempDir dir;
  asio::io_context io;
  testing::ManualTime time(io);
  const std::string path = dir.path() + "/qmp";
  std::optional<FakeQmp> qemu;
  auto appears = time.make_timer();
  appears->start(milliseconds(300), [&] { qemu.emplace(io, path, true); });
  int ticks = 0;  // other work: a handler every 50 ms
  auto tick = time.make_timer();
  std::function<void()> again = [&] {
    ++ticks;
    tick->start(milliseconds(50), again);
  };
  tick->start(milliseconds(50), again);
  std::optional<Expected<std::shared_ptr<QmpClient>>> opened;
  QmpClient::open(
      io, time, path, std::chrono::seconds(5), [] { return true; },
      [&](Expected<std::shared_ptr<QmpClient>> client) { opened = std::move(client); });
  EXPECT_FALSE(opened);  // never inside open()
  run_until(io, time, [&] { return opened.has_value(); });
  ASSERT_TRUE(opened);
  ASSERT_TRUE(*opened) << opened->error().message;
  EXPECT_GE(ticks, 5);  // the loop ran while the socket was awaited
  EXPECT_EQ(qemu->commands, (std::vector<std::string>{"qmp_capabilities", "migrate-set-capabilities"}));
  std::optional<Expected<nlohmann::json>> reply;
  (**opened)->execute({{"execute", "query-migrate"}}, std::chrono::seconds(1),
                      [&](Expected<nlohmann::json> r) { reply = std::move(r); });
  run_until(io, time, [&] { return reply.has_value(); });
  ASSERT_TRUE(reply && *reply);
  EXPECT_EQ(*migration_state(**reply), "completed");  // the event before it was skipped
  tick->cancel();
  (**opened)->close();
}

TEST(QmpClient, ASocketThatNeverAppearsFailsAtTheDeadline) {
  testing::TempDir dir;
  asio::io_context io;
  testing::ManualTime time(io);
  std::optional<Expected<std::shared_ptr<QmpClient>>> opened;
  QmpClient::open(
      io, time, dir.path() + "/qmp", std::chrono::seconds(2), [] { return true; },
      [&](Expected<std::shared_ptr<QmpClient>> client) { opened = std::move(client); });
  run_until(io, time, [&] { return opened.has_value(); });
  ASSERT_TRUE(opened);
  ASSERT_FALSE(*opened);
  EXPECT_EQ(opened->error().message, "qemu's QMP socket did not appear");
  EXPECT_EQ(time.now().time_since_epoch(), std::chrono::seconds(2));
}

TEST(QmpClient, AQemuThatExitedIsNotWaitedFor) {
  testing::TempDir dir;
  asio::io_context io;
  testing::ManualTime time(io);
  int asked = 0;
  std::optional<Expected<std::shared_ptr<QmpClient>>> opened;
  QmpClient::open(
      io, time, dir.path() + "/qmp", std::chrono::seconds(5), [&] { return ++asked < 3; },
      [&](Expected<std::shared_ptr<QmpClient>> client) { opened = std::move(client); });
  run_until(io, time, [&] { return opened.has_value(); });
  ASSERT_TRUE(opened && !*opened);
  EXPECT_EQ(opened->error().message, "qemu exited");
  EXPECT_LT(time.now().time_since_epoch(), std::chrono::seconds(1));
}

// A qemu that accepts but never greets: "QMP did not answer" at the
// deadline, the read that was under way cancelled.
TEST(QmpClient, AQmpThatNeverAnswersFailsAtTheDeadline) {
  testing::TempDir dir;
  asio::io_context io;
  testing::ManualTime time(io);
  const std::string path = dir.path() + "/qmp";
  FakeQmp qemu(io, path, false);
  std::optional<Expected<std::shared_ptr<QmpClient>>> opened;
  QmpClient::open(
      io, time, path, std::chrono::seconds(3), [] { return true; },
      [&](Expected<std::shared_ptr<QmpClient>> client) { opened = std::move(client); });
  run_until(io, time, [&] { return opened.has_value(); });
  ASSERT_TRUE(opened && !*opened);
  EXPECT_EQ(opened->error().message, "QMP did not answer");
  EXPECT_EQ(time.now().time_since_epoch(), std::chrono::seconds(3));
}

// A command with no answer in time is an Error, not a wait.
TEST(QmpClient, ACommandWithoutAnAnswerFailsAtItsDeadline) {
  testing::TempDir dir;
  asio::io_context io;
  testing::ManualTime time(io);
  const std::string path = dir.path() + "/qmp";
  FakeQmp qemu(io, path, true);
  std::optional<Expected<std::shared_ptr<QmpClient>>> opened;
  QmpClient::open(
      io, time, path, std::chrono::seconds(3), [] { return true; },
      [&](Expected<std::shared_ptr<QmpClient>> client) { opened = std::move(client); });
  run_until(io, time, [&] { return opened.has_value(); });
  ASSERT_TRUE(opened && *opened);
  std::optional<Expected<nlohmann::json>> reply;
  (**opened)->execute({{"execute", "x-unanswered"}}, milliseconds(700),
                      [&](Expected<nlohmann::json> r) { reply = std::move(r); });
  run_until(io, time, [&] { return reply.has_value(); });
  ASSERT_TRUE(reply);
  EXPECT_FALSE(*reply);
  EXPECT_EQ(time.now().time_since_epoch(), milliseconds(700));
  (**opened)->close();
}

}  // namespace
}  // namespace xrun
