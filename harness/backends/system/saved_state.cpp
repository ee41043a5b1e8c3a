#include "backends/system/saved_state.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "backends/system/qmp.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/hash.h"
#include "core/log.h"
#include "engine/test_model.h"
#include "machine/agent_protocol.h"

namespace xrun {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string snapshot_key(const VmSettings& s) {
  std::string text = qemu_identity(s.qemu) + read_file(s.image.manifest).value_or("") + "\n";
  for (const auto& a : machine_args(s, QemuMode::Restore, "STATE", "EXPORT")) text += a + "\n";
  return fnv1a_hex(text);
}

// One saved state per key (qemu build, image, machine options): runs with
// different settings (vm_memory, say) each keep theirs instead of replacing
// each other's.
std::string saved_state_dir(const VmSettings& s) {
  return join_path(s.image.dir, "snapshot-" + snapshot_key(s).substr(0, 16));
}

}  // namespace

std::optional<std::string> find_saved_state(const VmSettings& s) {
  const std::string dir = saved_state_dir(s);
  if (read_file(join_path(dir, "key")).value_or("") == snapshot_key(s) + "\n" &&
      is_regular_file(join_path(dir, "state")))
    return dir;
  return std::nullopt;
}

namespace {

class Saver final : public StateSaving, public std::enable_shared_from_this<Saver> {
 public:
  Saver(asio::io_context& io, TimeSource& time, const VmSettings& s, std::function<void(Expected<std::string>)> done)
      : io_(io), time_(time), s_(s), done_(std::move(done)), agent_(io), timer_(time.make_timer()) {}

  void start();
  void cancel() override {
    done_ = nullptr;
    stop_qemu();
    std::error_code ec;
    if (!tmp_.empty()) fs::remove_all(tmp_, ec);
  }

 private:
  void wait_for_agent();
  void read_agent();
  void migrate();
  void query();
  void store();
  bool qemu_exited() const { return qemu_ && qemu_.has_exited(); }
  void stop_qemu() {
    timer_->cancel();
    if (qmp_) qmp_->close();
    qmp_.reset();
    boost::system::error_code ignored;
    agent_.close(ignored);
    if (qemu_) qemu_.kill_and_reap();
  }
  void fail(const std::string& why) {
    auto done = std::move(done_);
    done_ = nullptr;
    stop_qemu();
    std::error_code ec;
    fs::remove_all(tmp_, ec);
    if (done)
      done(make_error(ExitCode::InfraError, "cannot save the VM's state: " + why + "; last console lines (" +
                                                keep_console_log(console_, s_.image.name) +
                                                "):" + last_console_lines(read_file(console_).value_or(""), 8)));
  }
  void succeed(std::string dir) {
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(dir));
  }

  asio::io_context& io_;
  TimeSource& time_;
  VmSettings s_;
  std::function<void(Expected<std::string>)> done_;
  std::string key_, dir_, tmp_, agent_socket_, qmp_socket_, console_;
  Clock::time_point started_{};
  TimeSource::Clock::time_point deadline_{}, qmp_deadline_{};
  ChildProcess qemu_;  // killed and reaped by its owner (core/child_process.h)
  std::shared_ptr<QmpClient> qmp_;
  asio::posix::stream_descriptor agent_;
  std::array<char, 4096> buffer_{};
  AgentFrameReader reader_;
  std::unique_ptr<TimeSource::Timer> timer_;  // the boot's deadline, then the pause between queries
};

void Saver::start() {
  if (auto saved = find_saved_state(s_))
    return asio::post(io_, [self = shared_from_this(), dir = *saved] { self->succeed(dir); });
  key_ = snapshot_key(s_);
  dir_ = saved_state_dir(s_);
  // Made in a private directory and renamed into place: two xruns racing
  // here both succeed, one of them wins.
  started_ = Clock::now();
  std::error_code ec;
  tmp_ = dir_ + ".tmp-" + std::to_string(::getpid());
  // Leftovers of runs killed while saving (128 MiB each): their pid is gone.
  for (const auto& entry : fs::directory_iterator(s_.image.dir, ec)) {
    const std::string name = entry.path().filename().string();
    const auto mark = name.find(".tmp-");
    if (name.rfind("snapshot", 0) != 0 || mark == std::string::npos) continue;
    const pid_t owner = static_cast<pid_t>(std::atoi(name.c_str() + mark + 5));
    if (owner > 0 && ::kill(owner, 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
  fs::remove_all(tmp_, ec);
  fs::create_directories(tmp_, ec);
  agent_socket_ = join_path(s_.work_dir, "save.sock");
  qmp_socket_ = join_path(s_.work_dir, "save.qmp");
  console_ = join_path(s_.work_dir, "save-console.log");
  auto qemu = spawn_qemu(qemu_command(s_, QemuMode::SaveState, tmp_, agent_socket_, console_, qmp_socket_), console_,
                         s_.host_view.get());
  if (!qemu) {
    fs::remove_all(tmp_, ec);
    return asio::post(io_, [self = shared_from_this(), error = qemu.error()] {
      if (auto done = std::move(self->done_)) done(error);
    });
  }
  qemu_ = std::move(*qemu);
  const auto within =
      std::chrono::duration_cast<TimeSource::Clock::duration>(std::chrono::duration<double>(s_.boot_timeout_seconds));
  deadline_ = time_.now() + within;
  qmp_ = QmpClient::open(
      io_, time_, qmp_socket_, within,
      [weak = weak_from_this()] {
        auto self = weak.lock();
        return self && self->done_ && !self->qemu_exited();
      },
      [weak = weak_from_this()](Expected<std::shared_ptr<QmpClient>> client) {
        auto self = weak.lock();
        if (!self || !self->done_) {
          if (client) (*client)->close();
          return;
        }
        if (!client) return self->fail(client.error().message);
        self->wait_for_agent();
      });
}

void Saver::wait_for_agent() {
  const int fd = connect_unix(agent_socket_);
  if (fd < 0) return fail("cannot connect to the agent socket");
  agent_.assign(fd);
  const std::string hello = encode_hello(1);
  if (::write(fd, hello.data(), hello.size()) != static_cast<ssize_t>(hello.size())) return fail("agent socket");
  timer_->start(deadline_ - time_.now(), [weak = weak_from_this()] {
    if (auto self = weak.lock(); self && self->done_)
      self->fail(self->qemu_exited()
                     ? "qemu exited"
                     : "the VM did not become ready in " + format_seconds(self->s_.boot_timeout_seconds));
  });
  read_agent();
}

void Saver::read_agent() {
  agent_.async_read_some(asio::buffer(buffer_),
                         [weak = weak_from_this()](const boost::system::error_code& error, std::size_t n) {
                           auto self = weak.lock();
                           if (!self || !self->done_ || error == asio::error::operation_aborted) return;
                           if (error)
                             return self->fail(self->qemu_exited() ? "qemu exited" : "the agent's socket closed");
                           self->reader_.feed(std::string_view(self->buffer_.data(), n));
                           bool ready = false;
                           while (auto frame = self->reader_.next()) ready |= frame->type == XRUN_HELLO_ACK;
                           if (!ready) return self->read_agent();
                           self->timer_->cancel();
                           boost::system::error_code ignored;
                           self->agent_.cancel(ignored);
                           self->migrate();
                         });
}

void Saver::migrate() {
  qmp_deadline_ = time_.now() + std::chrono::seconds(20);
  qmp_->execute({{"execute", "migrate"}, {"arguments", {{"uri", "exec:cat > " + tmp_ + "/state"}}}},
                qmp_deadline_ - time_.now(), [weak = weak_from_this()](Expected<nlohmann::json> started) {
                  auto self = weak.lock();
                  if (!self || !self->done_) return;
                  if (!started || started->contains("error"))
                    return self->fail("migrate: " + (started ? started->dump() : std::string("no answer")));
                  self->query();
                });
}

void Saver::query() {
  qmp_->execute({{"execute", "query-migrate"}}, qmp_deadline_ - time_.now(),
                [weak = weak_from_this()](Expected<nlohmann::json> status) {
                  auto self = weak.lock();
                  if (!self || !self->done_) return;
                  if (!status) return self->fail("query-migrate did not answer");
                  const auto state = migration_state(*status);
                  if (!state) return self->fail(state.error().message);
                  if (*state == "completed") return self->store();
                  // Asked again shortly, on a timer: the loop runs meanwhile.
                  self->timer_->start(std::chrono::milliseconds(10), [weak] {
                    if (auto again = weak.lock(); again && again->done_) again->query();
                  });
                });
}

void Saver::store() {
  stop_qemu();
  std::error_code ec;
  std::ofstream(join_path(tmp_, "key")) << key_ << "\n";
  fs::remove_all(dir_, ec);
  fs::rename(tmp_, dir_, ec);
  if (ec) {
    fs::remove_all(tmp_, ec);
    if (!is_regular_file(join_path(dir_, "state"))) {
      auto done = std::move(done_);
      done_ = nullptr;
      if (done) done(make_error(ExitCode::InfraError, "cannot store " + dir_));
      return;
    }
  }
  tmp_.clear();
  log_debug("saved the VM state of {} in {:.2f} s", s_.image.name,
            std::chrono::duration<double>(Clock::now() - started_).count());
  // The newest few saved states stay (128 MiB of RAM each, and more).
  constexpr std::size_t kKeptStates = 3;
  std::vector<fs::directory_entry> states;
  for (const auto& entry : fs::directory_iterator(s_.image.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if ((name.rfind("snapshot-", 0) == 0 || name == "snapshot") && entry.is_directory(ec) && entry.path() != dir_)
      states.push_back(entry);
  }
  std::sort(states.begin(), states.end(),
            [](const auto& a, const auto& b) { return a.last_write_time() > b.last_write_time(); });
  for (std::size_t i = kKeptStates - 1; i < states.size(); ++i) fs::remove_all(states[i].path(), ec);
  succeed(dir_);
}

}  // namespace

std::shared_ptr<StateSaving> ensure_snapshot(asio::io_context& io, TimeSource& time, const VmSettings& settings,
                                             std::function<void(Expected<std::string>)> done) {
  auto saver = std::make_shared<Saver>(io, time, settings, std::move(done));
  saver->start();
  return saver;
}

}  // namespace xrun
