#include "backends/board/board.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "backends/board/board_link.h"
#include "backends/board/reset_command.h"
#include "backends/board/ssh.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "core/sha256.h"
#include "launch/launcher.h"
#include "machine/agent_machine.h"
#include "machine/file_mirror.h"
#include "probe/elf_probe.h"

namespace xrun {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Environment variables of xrun's own that a test on a board gets: what
// build tools set for the tests they run, and XRUN_PASS_*, the user's own
// for their tests (xrun's configuration never reads them). Never PATH, HOME
// or the like: the board's own are the program's (the agent adds them).
// Not XRUN_TEST_*: that is xrun's configuration ([test] in the environment).
bool forwarded_to_boards(std::string_view entry) {
  for (std::string_view prefix : {"CARGO_", "RUST_", "GTEST_", "CTEST_", "MESON_TEST_", kPassedToTestsPrefix})
    if (entry.rfind(prefix, 0) == 0) return true;
  return false;
}

// ---------------------------------------------------------------- Board ---

class Board final : public AgentMachine {
 public:
  Board(asio::io_context& io, std::string name, BoardSettings settings, const std::string& work_dir, std::string target,
        Warnings& warnings)
      : AgentMachine(io),
        target_(std::move(target)),
        link_(std::move(name), std::move(settings), work_dir),
        warnings_(warnings) {}
  ~Board() override {
    stop_processes();
    if (thread_.joinable()) thread_.join();
  }

  std::string name() const override { return "board " + link_.name(); }
  std::string report_name() const override { return link_.name(); }

  // Whether power-cycling it could bring it back: not when it answered and
  // refused (a host key, a login), or cannot run the target's programs.
  bool reset_may_help() const { return reset_may_help_; }

  const std::string& libc() const { return libc_; }  // "2.36"; "" when not glibc (or not found)

 private:
  struct BroughtUp {
    std::optional<std::string> error;
    PipedChild agent;
  };

  // Steps 1-4 of board_link.h in a thread (the network may keep each
  // waiting for seconds); the session starts on the io_context.
  void launch() override {
    thread_ = std::thread([this, weak = weak_as<Board>()] {
      auto result = bring_up();
      asio::post(io_, [weak, result = std::move(result)]() mutable {
        if (auto self = weak.lock()) self->brought_up(std::move(result));
      });
      // The ssh processes die with the thread that started them
      // (PR_SET_PDEATHSIG follows the thread, not the process): it stays
      // until the board is done with.
      std::unique_lock lock(mutex_);
      done_.wait(lock, [this] { return stopping_.load(); });
    });
  }

  BroughtUp bring_up() {
    if (auto connected = link_.connect(); !connected) {
      reset_may_help_ = !link_.refused();
      return {connected.error().message, {}};
    }
    auto facts = link_.probe();
    if (!facts) {
      reset_may_help_ = !link_.refused();
      return {facts.error().message, {}};
    }
    libc_ = facts->libc;
    reset_may_help_ = false;  // from here on, what fails is not the board's being away
    if (agent_arch_for(facts->machine) != target_)
      return {"board " + link_.name() + " is " + facts->machine + ": it cannot run " + target_ + " programs", {}};
    auto command = link_.install_agent(*facts, link_.settings().exclusive);
    if (!command) return {command.error().message, {}};
    if (stopping_) return {"stopped", {}};
    auto channel = spawn_piped(*command, link_.log());
    if (!channel) return {channel.error().message, {}};
    agent_pid_ = channel->process.pid();
    reset_may_help_ = true;
    return {std::nullopt, std::move(*channel)};
  }

  void brought_up(BroughtUp result) {
    if (dead()) {
      agent_pid_ = -1;
      return;  // its descriptors close, ssh is killed and reaped as `result` goes
    }
    if (result.error) {
      die(*result.error);
      return;
    }
    // An exclusive board another run holds: wait for it, up to lock_timeout.
    auto lock_wait = [weak = weak_as<Board>()](std::string_view text) {
      auto self = weak.lock();
      if (!self || self->ready() || text.rfind("xrun-lock-wait", 0) != 0) return;
      const double wait = self->link_.settings().lock_timeout;
      self->warnings_.warn(self->name() + " is in use by another xrun run (exclusive = true): waiting for it, up to " +
                           std::to_string(static_cast<long>(wait)) + " s (lock_timeout)");
      self->waiting_for_lock_ = true;
      self->ready_within(wait, "another xrun run held it for longer than lock_timeout");
    };
    AgentSession::Options options;
    options.name = name();
    // A board's network is slower to answer than virtio-serial: ssh's own
    // keep-alive (15 s) notices a dead link; this catches a hung agent.
    options.unresponsive_seconds = 30;
    agent_ = std::move(result.agent.process);
    open_session(result.agent.stdout_fd.release(), result.agent.stdin_fd.release(), options, {0x600d, false},
                 std::move(lock_wait));
    // The agent answers at once; a board whose agent does not is taken out.
    ready_within(link_.settings().connect_timeout, "its agent did not answer");
  }

  void ready_deadline_passed() override {
    if (waiting_for_lock_) reset_may_help_ = false;  // busy is not broken
  }

  void stop_processes() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    done_.notify_all();
    // Killed at once (it may still be on its way from the bring-up thread,
    // whose result then reaps it), reaped here once the loop holds it.
    if (const pid_t pid = agent_pid_.exchange(-1); pid > 0) ::kill(-pid, SIGKILL), ::kill(pid, SIGKILL);
    agent_ = ChildProcess();
    link_.stop();
  }

  // The master goes: the agent's channel closes and the agent kills its jobs
  // on the board (and a transfer of files under way fails: the jobs waiting
  // for it find the board gone, file_mirror.h).
  void stop() override { stop_processes(); }

  // "board NAME: why", and what ssh said last unless the reason quotes it.
  std::string last_words(const std::string& reason) override {
    const std::string log = read_file(link_.log()).value_or("");
    const std::string message = reason.rfind("board ", 0) == 0 ? reason : name() + ": " + reason;
    const std::string said = quoted_tail(log, 4);
    const std::string last = said.substr(said.rfind("\n    ") == std::string::npos ? 0 : said.rfind("\n    ") + 5);
    return message + (log.empty() || message.find(last) != std::string::npos ? "" : "; ssh said:" + said);
  }

  std::string target_;
  BoardLink link_;
  Warnings& warnings_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable done_;
  std::atomic<pid_t> agent_pid_{-1};  // for stop_processes() before agent_ holds it
  ChildProcess agent_;                // ssh running the agent, once brought up (the loop's)
  std::atomic<bool> reset_may_help_{true};
  bool waiting_for_lock_ = false;
  std::string libc_;  // written by the bring-up thread before the session starts
};

// ----------------------------------------------------------- BoardFleet ---

class BoardFleet final : public MachineFleet {
 public:
  BoardFleet(const Config& config, std::string target, std::vector<std::string> boards, std::string work_dir,
             std::unique_ptr<MirrorFiles> files, Warnings& warnings)
      : config_(config),
        target_(std::move(target)),
        boards_(std::move(boards)),
        work_dir_(std::move(work_dir)),
        files_(std::move(files)),
        warnings_(warnings) {}

  std::size_t slots() const override { return boards_.size(); }
  std::size_t jobs_per_machine(std::size_t slot) const override {
    return static_cast<std::size_t>(configured_boards(config_).at(boards_[slot]).max_jobs);
  }
  bool requeue_jobs_of_dead_machines() const override { return true; }

  std::shared_ptr<Machine> make(asio::io_context& io, std::size_t slot) override {
    io_ = &io;
    auto board = std::make_shared<Board>(io, boards_[slot], configured_boards(config_).at(boards_[slot]), work_dir_,
                                         target_, warnings_);
    made_[slot] = board;
    return board;
  }

  // A board that failed is quarantined: its jobs go to the other boards.
  // With a `reset` command (a smart plug, a relay, a BMC; the stand-in
  // board's script restarts its qemu) it is power-cycled once, on the loop
  // (reset_command.h: it takes as long as a boot), and comes back when its SSH server answers
  // again; otherwise, or if it fails again, it is out for the rest of the run.
  void recover(std::size_t slot, bool was_ready, const std::string& error, std::function<void(bool)> again) override {
    const BoardSettings& settings = configured_boards(config_).at(boards_[slot]);
    const std::string name = boards_[slot];
    auto failed = made_[slot].lock();
    const bool may_help = !failed || failed->reset_may_help();
    if (!settings.reset || !may_help || resets_[slot]++ > 0 || stopping_) {
      warnings_.warn("board " + name + " is out of this run" + (was_ready ? " (it stopped answering)" : "") + ": " +
                     error);
      again(false);
      return;
    }
    warnings_.warn("board " + name + " failed (" + error + "): resetting it with `" + *settings.reset + "`");
    if (!time_) time_ = steady_time(*io_);
    const std::string log = join_path(work_dir_, "reset-" + name + ".log");
    ::unlink(log.c_str());
    // On the loop: the command's end through a pidfd, its limit a timer.
    resets_running_[slot] = run_reset_command(
        *io_, *time_, *settings.reset, log, std::chrono::seconds(static_cast<long>(kResetSeconds)),
        [this, slot, name, again = std::move(again)](ResetResult reset) {
          resets_running_.erase(slot);
          if (reset.status != 0 || reset.timed_out) {
            std::string said = reset.said;
            if (said.size() > 2000) said = said.substr(said.size() - 2000);
            warnings_.warn("board " + name + ": its reset command " +
                           (!reset.started    ? std::string("could not be started")
                            : reset.timed_out ? "did not finish in " + std::to_string(kResetSeconds) + " s"
                                              : "failed with status " + std::to_string(reset.status)) +
                           "; it is out of this run. It said:\n" + said);
            again(false);
            return;
          }
          again(true);  // the next start waits for its SSH server (connect_timeout)
        });
  }
  ~BoardFleet() override { BoardFleet::shutdown(); }

  Expected<void> plan(const JobRequest& request, const ElfInfo& elf, MachineJob& job) override {
    RunFrame& f = job.frame;
    for (const auto& entry : current_environment())
      if (forwarded_to_boards(entry)) f.env.push_back(entry);
    std::vector<std::string> target_env;
    for (const auto& [name, value] : config_.target(target_).env) target_env.push_back(name + "=" + value);
    set_environment(f.env, target_env);
    set_environment(f.env, request.extra_env);
    // The newest glibc the program needs, checked against each board's before
    // it runs there: read by the probe with the rest of its headers.
    if (!glibc_needed_.count(f.path)) glibc_needed_.emplace(f.path, elf.glibc_needed);
    // What the job reads -- the program, the libraries of its build tree,
    // its cwd and the shares -- goes to the board (the fleet's file
    // strategy: the mirror).
    return files_->plan(job_files(request, elf, f, config_.target(target_).shares), job);
  }

  void stage(Machine& machine, const std::shared_ptr<MachineJob>& job,
             std::function<void(Expected<void>)> done) override {
    auto& board = static_cast<Board&>(machine);
    // A program built against a newer glibc than the board's would fail in
    // its loader with a line in the test's output: say so before.
    const std::string needed = glibc_needed_[job->host_path].value_or("");
    if (!needed.empty() && !board.libc().empty()) {
      const auto wanted = parse_glibc_version("GLIBC_" + needed);
      const auto has = parse_glibc_version("GLIBC_" + board.libc());
      if (wanted && has && *wanted > *has) {
        done(machine_error(board.name() + " has glibc " + board.libc() + ", but " + job->host_path + " needs GLIBC_" +
                           needed +
                           ": build it against the board's glibc (an older toolchain or sysroot), or update "
                           "the board"));
        return;
      }
    }
    files_->stage(job, std::move(done));
  }

  // sync_back: what the test wrote under its cwd and the shares comes back.
  void after(Machine& machine, const std::shared_ptr<MachineJob>& job, std::function<void()> done) override {
    files_->after(machine, job, std::move(done));
  }

  void shutdown() override {
    if (stopping_) return;
    stopping_ = true;
    for (auto& [slot, reset] : resets_running_) reset->cancel();  // their boards are out of the run anyway
    resets_running_.clear();
    const std::uint64_t sent = files_->bytes_sent();
    if (sent || get_env("XRUN_BOARD_REPORT_TRANSFER")) log_debug("boards of {}: {} bytes of files sent", target_, sent);
    if (auto path = get_env("XRUN_BOARD_TRANSFER_FILE")) write_file_atomically(*path, std::to_string(sent) + "\n");
    std::error_code ec;
    fs::remove_all(work_dir_, ec);
  }

 private:
  const Config& config_;
  std::string target_;
  std::vector<std::string> boards_;
  std::string work_dir_;
  std::unique_ptr<MirrorFiles> files_;
  Warnings& warnings_;
  std::map<std::string, std::optional<std::string>> glibc_needed_;  // by program
  asio::io_context* io_ = nullptr;
  std::map<std::size_t, int> resets_;
  std::map<std::size_t, std::weak_ptr<Board>> made_;
  std::map<std::size_t, std::shared_ptr<ResetCommand>> resets_running_;
  std::unique_ptr<TimeSource> time_;  // the reset commands' limit
  bool stopping_ = false;
  static constexpr double kResetSeconds = 300;
};

}  // namespace

std::unique_ptr<MachinePool> make_board_runner(asio::io_context& io, const Config& config, Warnings& warnings,
                                               bool fork_server) {
  return std::make_unique<MachinePool>(
      io, fork_server, [&io, &config, &warnings](const std::string& target) -> Expected<std::unique_ptr<MachineFleet>> {
        const auto& boards = boards_of(config.target(target));
        if (boards.empty())
          return make_error(ExitCode::Usage, "backend \"board\" for " + target +
                                                 " needs boards: name them in [targets." + target +
                                                 "] as boards = [\"NAME\", ...], each a [boards.NAME]");
        auto work_dir = make_board_work_dir();
        if (!work_dir) return work_dir.error();
        // Boards are elsewhere: a job's files are mirrored onto them, and
        // come back from those whose `sync_back` is on.
        auto files = std::make_unique<MirrorFiles>(
            io, [&config](const Machine& board) { return configured_boards(config).at(board.report_name()).sync_back; },
            warnings);
        return std::unique_ptr<MachineFleet>(
            std::make_unique<BoardFleet>(config, target, boards, *work_dir, std::move(files), warnings));
      });
}

}  // namespace xrun
