#include "support/fake_machine.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <stdexcept>

#include "machine/agent_protocol.h"  // the frame types (images/agent/protocol.h)

namespace xrun::testing {

namespace asio = boost::asio;

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}
std::uint32_t get_u32(const std::string& s, std::size_t at) {
  if (s.size() < at + 4) throw std::runtime_error("fake agent: short frame");
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}
std::string get_str(const std::string& s, std::size_t& at) {
  const std::uint32_t n = get_u32(s, at);
  at += 4;
  std::string out = s.substr(at, n);
  at += n;
  return out;
}

}  // namespace

void settle(asio::io_context& io) {
  io.restart();
  while (io.poll() > 0) io.restart();
}

FakeMachine::FakeMachine(asio::io_context& io, std::string name, std::string report_name, Options options)
    : AgentMachine(io), name_(std::move(name)), report_name_(std::move(report_name)), options_(options) {}

FakeMachine::~FakeMachine() = default;

void FakeMachine::launch() {
  started = true;
  if (!options_.hold_start)
    asio::post(io_, [weak = weak_as<FakeMachine>()] {
      if (auto self = weak.lock()) self->come_up();
    });
}

void FakeMachine::come_up() {
  if (dead() || opened_) return;
  opened_ = true;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw std::runtime_error("socketpair");
  agent_ = std::make_unique<asio::posix::stream_descriptor>(io_, fds[1]);
  read_more();
  open_session(fds[0], fds[0], {name_, 10}, {42, false});
}

void FakeMachine::fail_to_start(const std::string& reason) { die(reason); }

void FakeMachine::drop_connection() {
  boost::system::error_code ignored;
  if (agent_) agent_->close(ignored);
}

void FakeMachine::stop() { drop_connection(); }

std::string FakeMachine::last_words(const std::string& reason) {
  end_reason = reason;
  was_killed = killed();
  return name_ + ": " + reason;
}

void FakeMachine::send(std::uint8_t type, const std::string& payload) {
  if (!agent_ || !agent_->is_open()) return;
  std::string frame;
  put_u32(frame, static_cast<std::uint32_t>(payload.size() + 1));
  frame.push_back(static_cast<char>(type));
  frame += payload;
  // A socketpair's buffer takes these small frames at once.
  if (::write(agent_->native_handle(), frame.data(), frame.size()) != static_cast<ssize_t>(frame.size()))
    throw std::runtime_error("fake agent: short write");
}

void FakeMachine::read_more() {
  agent_->async_read_some(asio::buffer(buffer_), [weak = weak_as<FakeMachine>()](const auto& error, std::size_t n) {
    auto self = weak.lock();
    if (!self || error) return;
    self->rx_.append(self->buffer_.data(), n);
    while (self->rx_.size() >= 5) {
      const std::uint32_t length = get_u32(self->rx_, 0);
      if (self->rx_.size() < 4 + std::size_t{length}) break;
      const auto type = static_cast<std::uint8_t>(self->rx_[4]);
      std::string payload = self->rx_.substr(5, length - 1);
      self->rx_.erase(0, 4 + std::size_t{length});
      self->handle(type, payload);
      if (!self->agent_ || !self->agent_->is_open()) return;
    }
    self->read_more();
  });
}

void FakeMachine::handle(std::uint8_t type, const std::string& payload) {
  switch (type) {
    case XRUN_HELLO: {
      std::string ack;
      put_u32(ack, get_u32(payload, 0));
      put_str(ack, "6.1.0-fake");
      send(XRUN_HELLO_ACK, ack);
      break;
    }
    case XRUN_RUN: {
      Run run;
      run.job = get_u32(payload, 0);
      std::size_t at = 12;  // job, timeout, flags
      run.path = get_str(payload, at);
      get_str(payload, at);  // cwd
      const std::uint32_t argc = get_u32(payload, at);
      at += 4;
      for (std::uint32_t i = 0; i < argc; ++i) run.argv.push_back(get_str(payload, at));
      runs.push_back(run);
      jobs.insert(run.job);
      break;
    }
    case XRUN_SIGNAL: {
      const std::uint32_t job = get_u32(payload, 0);
      const int sig = static_cast<int>(get_u32(payload, 4));
      signals.emplace_back(job, sig);
      if (!options_.ignore_signals && jobs.count(job)) job_killed(job, sig);
      break;
    }
    case XRUN_STDIN: {
      const std::uint32_t job = get_u32(payload, 0);
      if (payload.size() == 4)
        input_closed.insert(job);
      else
        input[job] += payload.substr(4);
      break;
    }
    default:
      break;
  }
}

void FakeMachine::job_started(std::uint32_t job) {
  std::string p;
  put_u32(p, job);
  put_u32(p, 1000 + job);  // its pid
  send(XRUN_STARTED, p);
}

void FakeMachine::job_output(std::uint32_t job, const std::string& bytes) {
  std::string p;
  put_u32(p, job);
  send(XRUN_STDOUT, p + bytes);
}

void FakeMachine::job_exit(std::uint32_t job, int code) {
  jobs.erase(job);
  std::string p;
  put_u32(p, job);
  put_u32(p, XRUN_EXIT_CODE);
  put_u32(p, static_cast<std::uint32_t>(code));
  put_str(p, "");
  send(XRUN_EXIT, p);
}

void FakeMachine::job_killed(std::uint32_t job, int signal) {
  jobs.erase(job);
  std::string p;
  put_u32(p, job);
  put_u32(p, XRUN_EXIT_SIGNAL);
  put_u32(p, static_cast<std::uint32_t>(signal));
  put_str(p, "");
  send(XRUN_EXIT, p);
}

// ------------------------------------------------------------------ FakeFleet

std::shared_ptr<Machine> FakeFleet::make(asio::io_context& io, std::size_t slot) {
  const std::string name = target_ + " machine " + std::to_string(made.size());
  auto machine = std::make_shared<FakeMachine>(io, name, name, machine_options);
  made.push_back(machine);
  made_slots.push_back(slot);
  return machine;
}

Expected<void> FakeFleet::plan(const JobRequest&, const ElfInfo&, MachineJob& job) {
  if (plan_error) return make_error(ExitCode::CannotExecute, *plan_error);
  planned.push_back(job.id);
  return {};
}

void FakeFleet::stage(Machine&, const std::shared_ptr<MachineJob>&, std::function<void(Expected<void> staged)> done) {
  if (hold_staging)
    held_staging_.push_back(std::move(done));
  else
    done({});
}

void FakeFleet::prepare(boost::asio::io_context&, std::function<void()> done) {
  if (hold_prepare)
    held_prepare_ = std::move(done);
  else
    done();
}

void FakeFleet::finish_prepare() {
  if (!held_prepare_) throw std::logic_error("no preparation held");
  auto done = std::move(held_prepare_);
  held_prepare_ = nullptr;
  done();
}

void FakeFleet::finish_staging(std::optional<std::string> error) {
  if (held_staging_.empty()) throw std::logic_error("no staging held");
  auto done = std::move(held_staging_.front());
  held_staging_.erase(held_staging_.begin());
  if (error)
    done(machine_error(std::move(*error)));
  else
    done({});
}

void FakeFleet::recover(std::size_t slot, bool was_ready, const std::string& error, std::function<void(bool)> again) {
  recovered.push_back({slot, was_ready, error});
  switch (recovery) {
    case Recovery::Replace:
      again(true);
      break;
    case Recovery::Retire:
      again(false);
      break;
    case Recovery::Hold:
      held_recoveries_.push_back(std::move(again));
      break;
  }
}

void FakeFleet::answer_recovery(bool again) {
  if (held_recoveries_.empty()) throw std::logic_error("no recovery held");
  auto answer = std::move(held_recoveries_.front());
  held_recoveries_.erase(held_recoveries_.begin());
  answer(again);
}

FakeMachine& FakeFleet::in_slot(std::size_t slot) {
  for (std::size_t i = made.size(); i-- > 0;)
    if (made_slots[i] == slot) return *made[i];
  throw std::logic_error("no machine made in slot " + std::to_string(slot));
}

}  // namespace xrun::testing
