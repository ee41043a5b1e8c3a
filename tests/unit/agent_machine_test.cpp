// The life every agent machine shares (machine/agent_machine.h), on a
// machine whose specifics the test supplies: a start that fails, a ready
// deadline, the agent answering over a socketpair, a death on its own (told
// once, to whoever waits, with the machine's last words, which its jobs end
// with too) and a kill (no death). No clock: the io_context is polled until
// idle, and a deadline of 0 s has passed at once.
#include "machine/agent_machine.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "machine/agent_protocol.h"
#include "support/fake_machine.h"

namespace xrun {
namespace {

using testing::settle;

class Probe final : public AgentMachine {
 public:
  explicit Probe(boost::asio::io_context& io) : AgentMachine(io) {}
  ~Probe() override {
    if (agent_fd >= 0) ::close(agent_fd);
  }

  std::string name() const override { return "probe"; }

  // What the test has launch() do.
  std::function<void(Probe&)> on_launch;
  // The agent's end of the socketpair, once connect() made it.
  int agent_fd = -1;

  // What happened to it.
  int stops = 0, deadlines = 0;
  std::vector<std::string> said;  // the reasons last_words() was asked for
  std::optional<std::string> heard_ready;

  using AgentMachine::die;
  using AgentMachine::fail_start;
  using AgentMachine::killed;
  using AgentMachine::ready_within;

  // The agent's stream: a session over one end of a socketpair.
  void connect() {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    agent_fd = fds[1];
    open_session(fds[0], fds[0], {"probe", 10}, {7, false});
  }
  // The agent answers HELLO (nonce 7).
  void answer_hello() {
    std::string payload;
    for (int i = 0; i < 4; ++i) payload.push_back(static_cast<char>((7u >> (8 * i)) & 0xff));
    payload += "6.1.0-probe";
    std::string frame;
    const auto length = static_cast<std::uint32_t>(payload.size() + 1);
    for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
    frame.push_back(static_cast<char>(XRUN_HELLO_ACK));
    frame += payload;
    ASSERT_EQ(::write(agent_fd, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  }

 private:
  void launch() override {
    if (on_launch) on_launch(*this);
  }
  void stop() override { ++stops; }
  std::string last_words(const std::string& reason) override {
    said.push_back(reason);
    return "probe: " + reason + "; its log: the end";
  }
  void became_ready(const std::string& release) override { heard_ready = release; }
  void ready_deadline_passed() override { ++deadlines; }
};

struct Heard {
  int calls = 0;
  std::optional<std::string> error;
};

AgentMachine::ReadyHandler record(Heard& heard) {
  return [&heard](Expected<void> started) {
    ++heard.calls;
    if (!started) heard.error = started.error().message;
  };
}

// A start that fails before anything ran is heard on the next turn of the
// loop (the pool stores the machine first), as it is: nothing to stop, no
// last words.
TEST(AgentMachine, AStartThatFailsIsHeardOnTheNextTurnAndStopsNothing) {
  boost::asio::io_context io;
  auto probe = std::make_shared<Probe>(io);
  probe->on_launch = [](Probe& p) { p.fail_start("qemu-system-aarch64 is not installed"); };
  Heard heard;
  probe->start(record(heard));
  EXPECT_EQ(heard.calls, 0) << "heard from inside start()";
  EXPECT_FALSE(probe->alive());
  settle(io);
  EXPECT_EQ(heard.calls, 1);
  EXPECT_EQ(heard.error, "qemu-system-aarch64 is not installed");
  EXPECT_EQ(probe->stops, 0);
  EXPECT_TRUE(probe->said.empty());
}

// Not ready within its deadline: it dies with the deadline's message, in its
// own words, and the start's handler hears that once.
TEST(AgentMachine, NotReadyInTimeItDiesWithTheDeadlinesMessage) {
  boost::asio::io_context io;
  auto probe = std::make_shared<Probe>(io);
  probe->on_launch = [](Probe& p) {
    p.connect();
    p.ready_within(0, "its agent did not answer");
  };
  Heard heard;
  probe->start(record(heard));
  settle(io);
  EXPECT_EQ(heard.calls, 1);
  EXPECT_EQ(heard.error, "probe: its agent did not answer; its log: the end");
  EXPECT_EQ(probe->deadlines, 1);
  EXPECT_EQ(probe->stops, 1);
  EXPECT_FALSE(probe->alive());
  EXPECT_EQ(probe->session(), nullptr);
}

// The agent answers: ready, its deadline off, the session handed out.
TEST(AgentMachine, ReadyWhenTheAgentAnswersAndTheDeadlineIsOff) {
  boost::asio::io_context io;
  auto probe = std::make_shared<Probe>(io);
  probe->on_launch = [](Probe& p) {
    p.connect();
    p.ready_within(3600, "its agent did not answer");
  };
  Heard heard;
  probe->start(record(heard));
  settle(io);
  EXPECT_EQ(heard.calls, 0);
  EXPECT_FALSE(probe->ready());
  EXPECT_EQ(probe->session(), nullptr);
  probe->answer_hello();
  settle(io);
  EXPECT_EQ(heard.calls, 1);
  EXPECT_EQ(heard.error, std::nullopt);
  EXPECT_TRUE(probe->ready());
  ASSERT_NE(probe->session(), nullptr);
  EXPECT_TRUE(probe->heard_ready.has_value());
  EXPECT_EQ(probe->deadlines, 0);
}

struct Ready {
  boost::asio::io_context io;
  std::shared_ptr<Probe> probe = std::make_shared<Probe>(io);
  Heard heard;
  std::vector<std::string> deaths;
  std::optional<JobExit> job_exit;

  Ready() {
    probe->on_launch = [](Probe& p) { p.connect(); };
    probe->start(record(heard));
    settle(io);
    probe->answer_hello();
    settle(io);
    probe->on_death = [this](const std::string& message) { deaths.push_back(message); };
    RunFrame frame;
    frame.job = 1;
    frame.path = "/bin/true";
    frame.argv = {"true"};
    AgentSession::JobHandlers handlers;
    handlers.done = [this](const JobExit& exit) { job_exit = exit; };
    probe->session()->run(frame, std::move(handlers));
    settle(io);
  }
};

// A death on its own after it was ready: stopped once, its running jobs end
// as infra errors with its last words, and on_death hears them once.
TEST(AgentMachine, ADeathIsToldOnceWithTheLastWordsItsJobsEndWith) {
  Ready r;
  ASSERT_EQ(r.heard.calls, 1);
  r.probe->die("qemu exited with status 1");
  r.probe->die("and again");
  settle(r.io);
  EXPECT_EQ(r.probe->stops, 1);
  EXPECT_EQ(r.probe->said, std::vector<std::string>{"qemu exited with status 1"});
  ASSERT_EQ(r.deaths.size(), 1u);
  EXPECT_EQ(r.deaths[0], "probe: qemu exited with status 1; its log: the end");
  ASSERT_TRUE(r.job_exit);
  EXPECT_EQ(r.job_exit->infra_error, r.deaths[0]);
  EXPECT_FALSE(r.probe->alive());
  EXPECT_EQ(r.heard.calls, 1) << "the start's handler heard of the death too";
}

// The agent's channel closing (a board's network, qemu's socket) is a death.
TEST(AgentMachine, TheAgentsChannelClosingIsADeath) {
  Ready r;
  ::close(r.probe->agent_fd);
  r.probe->agent_fd = -1;
  settle(r.io);
  EXPECT_EQ(r.probe->stops, 1);
  ASSERT_EQ(r.deaths.size(), 1u);
  EXPECT_EQ(r.deaths[0].rfind("probe: ", 0), 0u) << r.deaths[0];
  ASSERT_TRUE(r.job_exit);
  EXPECT_EQ(r.job_exit->infra_error, r.deaths[0]);
}

// kill() is no death: stopped, its jobs end naming why, on_death is not told.
TEST(AgentMachine, AKillIsNotADeath) {
  Ready r;
  r.probe->kill("xrun is done with it");
  settle(r.io);
  EXPECT_TRUE(r.probe->killed());
  EXPECT_EQ(r.probe->stops, 1);
  EXPECT_TRUE(r.deaths.empty());
  ASSERT_TRUE(r.job_exit);
  EXPECT_EQ(r.job_exit->infra_error, "probe: xrun is done with it; its log: the end");
}

// Killed before it was ready: the start's handler hears why, once.
TEST(AgentMachine, KilledBeforeItWasReadyTheStartHearsWhy) {
  boost::asio::io_context io;
  auto probe = std::make_shared<Probe>(io);
  probe->on_launch = [](Probe& p) { p.connect(); };
  Heard heard;
  probe->start(record(heard));
  settle(io);
  probe->kill("xrun is done with it");
  settle(io);
  EXPECT_EQ(heard.calls, 1);
  EXPECT_EQ(heard.error, "probe: xrun is done with it; its log: the end");
}

}  // namespace
}  // namespace xrun
