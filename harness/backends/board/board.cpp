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
#include "backends/board/file_mirror.h"
#include "backends/board/ssh.h"
#include "backends/system/image.h"
#include "backends/system/vm_arch.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "core/sha256.h"
#include "launch/launcher.h"
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

class Board final : public Machine, public std::enable_shared_from_this<Board> {
 public:
  Board(asio::io_context& io, std::string name, BoardSettings settings, const std::string& work_dir, std::string target)
      : io_(io), target_(std::move(target)), link_(std::move(name), std::move(settings), work_dir) {}
  ~Board() override {
    stop_processes();
    if (thread_.joinable()) thread_.join();
    if (session_) session_->close("the board is no longer used");
  }

  // Steps 1-4 of board_link.h in a thread (the network may keep each
  // waiting for seconds); the session starts on the io_context.
  void start(ReadyHandler ready) override {
    ready_handler_ = std::move(ready);
    thread_ = std::thread([this, weak = weak_from_this()] {
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

  AgentSession* session() override { return ready_ && !dead_ ? session_.get() : nullptr; }
  void kill(const std::string& reason) override {
    on_death = nullptr;
    die(reason);
  }
  bool alive() const override { return !dead_; }
  bool ready() const override { return ready_; }
  std::string name() const override { return "board " + link_.name(); }
  std::string report_name() const override { return link_.name(); }

  // Whether power-cycling it could bring it back: not when it answered and
  // refused (a host key, a login), or cannot run the target's programs.
  bool reset_may_help() const { return reset_may_help_; }

  const std::string& prefix() const { return prefix_; }
  const std::string& libc() const { return libc_; }  // "2.36"; "" when not glibc (or not found)
  void set_prefix(const std::string& prefix) { prefix_ = prefix; }
  // Files this run already put on the board: path -> size and mtime.
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> placed;
  bool staging = false;                       // a transfer is under way
  std::deque<std::function<void()>> waiting;  // jobs staging after it

 private:
  struct BroughtUp {
    std::optional<std::string> error;
    PipedChild agent;
  };

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
    agent_pid_ = channel->pid;
    reset_may_help_ = true;
    return {std::nullopt, *channel};
  }

  void brought_up(BroughtUp result) {
    if (dead_) {
      for (int fd : {result.agent.stdin_fd, result.agent.stdout_fd})
        if (fd >= 0) ::close(fd);
      return;
    }
    if (result.error) {
      die(*result.error);
      return;
    }
    AgentSession::Events events;
    events.ready = [weak = weak_from_this()](const std::string&) {
      auto self = weak.lock();
      if (!self || self->ready_ || self->dead_) return;
      self->ready_ = true;
      if (self->hello_timer_) self->hello_timer_->cancel();
      if (auto handler = std::exchange(self->ready_handler_, nullptr)) handler(std::nullopt);
    };
    events.closed = [weak = weak_from_this()](const std::string& reason) {
      auto self = weak.lock();
      return self ? self->die(reason) : reason;
    };
    // An exclusive board another run holds: wait for it, up to lock_timeout.
    events.log = [weak = weak_from_this()](std::string_view text) {
      auto self = weak.lock();
      if (!self || self->ready_ || text.rfind("xrun-lock-wait", 0) != 0) return;
      const double wait = self->link_.settings().lock_timeout;
      print_warning(self->name() + " is in use by another xrun run (exclusive = true): waiting for it, up to " +
                    std::to_string(static_cast<long>(wait)) + " s (lock_timeout)");
      self->waiting_for_lock_ = true;
      self->hello_timer_->expires_after(std::chrono::milliseconds(static_cast<long>(wait * 1000)));
      self->arm_hello_timer();
    };
    AgentSession::Options options;
    options.name = name();
    // A board's network is slower to answer than virtio-serial: ssh's own
    // keep-alive (15 s) notices a dead link; this catches a hung agent.
    options.unresponsive_seconds = 30;
    session_ = AgentSession::open(io_, result.agent.stdout_fd, result.agent.stdin_fd, options, std::move(events));
    session_->hello(0x600d);
    // The agent answers at once; a board whose agent does not is taken out.
    hello_timer_.emplace(io_);
    hello_timer_->expires_after(std::chrono::milliseconds(static_cast<long>(link_.settings().connect_timeout * 1000)));
    arm_hello_timer();
  }

  void arm_hello_timer() {
    hello_timer_->async_wait([weak = weak_from_this()](const auto& error) {
      auto self = weak.lock();
      if (error || !self || self->ready_ || self->dead_) return;
      if (self->waiting_for_lock_) self->reset_may_help_ = false;  // busy is not broken
      self->die(self->waiting_for_lock_ ? "another xrun run held it for longer than lock_timeout"
                                        : "its agent did not answer");
    });
  }

  void stop_processes() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    done_.notify_all();
    if (const pid_t pid = agent_pid_.exchange(-1); pid > 0) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    link_.stop();
  }

  std::string die(const std::string& reason) {
    if (dead_) return reason;
    dead_ = true;
    auto self = shared_from_this();
    // The master goes: the agent's channel closes and the agent kills its jobs on the board.
    stop_processes();
    if (hello_timer_) hello_timer_->cancel();
    // Jobs waiting for their files find the board gone.
    staging = false;
    for (auto& next : std::exchange(waiting, {})) asio::post(io_, std::move(next));
    const std::string log = read_file(link_.log()).value_or("");
    const std::string message = reason.rfind("board ", 0) == 0 ? reason : name() + ": " + reason;
    // What ssh said, unless the message already quotes it.
    const std::string said = quoted_tail(log, 4);
    const std::string last = said.substr(said.rfind("\n    ") == std::string::npos ? 0 : said.rfind("\n    ") + 5);
    const std::string full =
        message + (log.empty() || message.find(last) != std::string::npos ? "" : "; ssh said:" + said);
    if (auto handler = std::exchange(ready_handler_, nullptr)) {
      if (session_) session_->close(full);
      handler(full);
      return full;
    }
    if (session_) session_->close(full);
    if (auto death = std::exchange(on_death, nullptr)) death(full);
    return full;
  }

  asio::io_context& io_;
  std::string target_;
  BoardLink link_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable done_;
  std::atomic<pid_t> agent_pid_{-1};
  ReadyHandler ready_handler_;
  bool ready_ = false, dead_ = false;
  std::shared_ptr<AgentSession> session_;
  std::optional<asio::steady_timer> hello_timer_;
  std::string prefix_;
  std::atomic<bool> reset_may_help_{true};
  bool waiting_for_lock_ = false;
  std::string libc_;  // written by the bring-up thread before the session starts
};

// ----------------------------------------------------------- BoardFleet ---

class BoardFleet final : public MachineFleet {
 public:
  BoardFleet(const Config& config, std::string target, std::vector<std::string> boards, std::string work_dir)
      : config_(config), target_(std::move(target)), boards_(std::move(boards)), work_dir_(std::move(work_dir)) {}

  std::size_t slots() const override { return boards_.size(); }
  std::size_t jobs_per_machine(std::size_t slot) const override {
    return static_cast<std::size_t>(config_.boards.at(boards_[slot]).max_jobs);
  }
  bool requeue_jobs_of_dead_machines() const override { return true; }

  std::shared_ptr<Machine> make(asio::io_context& io, std::size_t slot) override {
    io_ = &io;
    auto board = std::make_shared<Board>(io, boards_[slot], config_.boards.at(boards_[slot]), work_dir_, target_);
    made_[slot] = board;
    return board;
  }

  // A board that failed is quarantined: its jobs go to the other boards.
  // With a `reset` command (a smart plug, a relay, a BMC; the stand-in
  // board's script restarts its qemu) it is power-cycled once, in a thread
  // (it takes as long as a boot), and comes back when its SSH server answers
  // again; otherwise, or if it fails again, it is out for the rest of the run.
  void recover(std::size_t slot, bool was_ready, const std::string& error, std::function<void(bool)> again) override {
    const BoardSettings& settings = config_.boards.at(boards_[slot]);
    const std::string name = boards_[slot];
    auto failed = made_[slot].lock();
    const bool may_help = !failed || failed->reset_may_help();
    if (!settings.reset || !may_help || resets_[slot]++ > 0 || stopping_) {
      print_warning("board " + name + " is out of this run" + (was_ready ? " (it stopped answering)" : "") + ": " +
                    error);
      again(false);
      return;
    }
    print_warning("board " + name + " failed (" + error + "): resetting it with `" + *settings.reset + "`");
    resetters_.emplace_back(
        [io = io_, alive = std::weak_ptr<bool>(alive_), name, command = *settings.reset, again = std::move(again)] {
          const CommandResult reset = run_command({"sh", "-c", command}, "", kResetSeconds);
          asio::post(*io, [alive, name, reset, again] {
            if (auto fleet = alive.lock(); !fleet || !*fleet) return;  // the run is over
            if (reset.status != 0 || reset.timed_out) {
              std::string said = reset.out + reset.err;
              if (said.size() > 2000) said = said.substr(said.size() - 2000);
              print_warning("board " + name + ": its reset command " +
                            (reset.timed_out ? "did not finish in " + std::to_string(kResetSeconds) + " s"
                                             : "failed with status " + std::to_string(reset.status)) +
                            "; it is out of this run. It said:\n" + said);
              again(false);
              return;
            }
            again(true);  // the next start waits for its SSH server (connect_timeout)
          });
        });
  }
  ~BoardFleet() override { BoardFleet::shutdown(); }

  Expected<bool> plan(const JobRequest& request, const ElfInfo& elf, MachineJob& job) override {
    RunFrame& f = job.frame;
    for (const auto& entry : current_environment())
      if (forwarded_to_boards(entry)) f.env.push_back(entry);
    std::vector<std::string> target_env;
    for (const auto& [name, value] : config_.target(target_).env) target_env.push_back(name + "=" + value);
    set_environment(f.env, target_env);
    set_environment(f.env, request.extra_env);
    // The newest glibc the program needs, checked against each board's before
    // it runs there: read by the probe with the rest of its headers.
    job.glibc_needed = elf.glibc_needed.value_or("");
    // What the job reads: the program, the libraries of its build tree, its
    // cwd and the shares.
    if (!warned_home_) {
      const auto home = get_env("HOME");
      if (home && !home->empty() && real_path(*home) == real_path(f.cwd)) {
        warned_home_ = true;
        print_warning("the tests run from your home directory " + *home + ": all of it goes to the board (less " +
                      ".ssh, .gnupg, .netrc and other credentials, docs/boards.md). Run them from the project's "
                      "directory instead");
      }
    }
    if (auto added = mirror_.add_file(f.path, job.files); !added) return added;
    if (auto added = mirror_.add_tree(f.cwd, job.files); !added) return added;
    for (const auto& share : config_.target(target_).shares)
      if (auto added = mirror_.add_tree(real_path(share), job.files); !added) return added;
    for (const auto& dir : build_tree_library_dirs(elf, f.path, f.env))
      if (auto added = mirror_.add_libraries_in(dir, job.files); !added) return added;
    return true;
  }

  void stage(Machine& machine, const std::shared_ptr<MachineJob>& job,
             std::function<void(std::optional<std::string>)> done) override {
    auto& board = static_cast<Board&>(machine);
    // A program built against a newer glibc than the board's would fail in
    // its loader with a line in the test's output: say so before.
    if (!job->glibc_needed.empty() && !board.libc().empty()) {
      const auto needed = parse_glibc_version("GLIBC_" + job->glibc_needed);
      const auto has = parse_glibc_version("GLIBC_" + board.libc());
      if (needed && has && *needed > *has) {
        done(board.name() + " has glibc " + board.libc() + ", but " + job->host_path + " needs GLIBC_" +
             job->glibc_needed +
             ": build it against the board's glibc (an older toolchain or sysroot), or update "
             "the board");
        return;
      }
    }
    // One transfer at a time per board: jobs starting together (a suite's
    // shards) need the same files, which then go once.
    if (board.staging) {
      board.waiting.push_back([this, held = job->machine, job, done] {
        if (held)
          stage(*held, job, done);
        else
          done("the board is gone");
      });
      return;
    }
    // The agent mirrors under a prefix when the board's user cannot create the paths themselves.
    const auto place_frame = [](const Board& on, MachineJob& placed_job) {
      placed_job.frame.path = on.prefix() + placed_job.host_path;
      placed_job.frame.cwd = on.prefix() + placed_job.host_cwd;
    };
    // What this run already put on this board, unchanged since, is not offered again.
    std::vector<FileEntry> needed;
    for (const auto& entry : job->files) {
      auto it = board.placed.find(entry.path);
      if (it == board.placed.end() || it->second != std::pair{entry.size, entry.mtime_ns}) needed.push_back(entry);
    }
    if (needed.empty()) {
      place_frame(board, *job);
      done(std::nullopt);
      return;
    }
    AgentSession* session = board.session();
    if (!session) {
      done(board.name() + " is gone");
      return;
    }
    auto weak = std::weak_ptr<Machine>(job->machine);
    board.staging = true;
    session->put_files(needed,
                       [this, weak, needed, job, place_frame, done](Expected<AgentSession::FilesResult> result) {
                         auto alive = weak.lock();
                         if (!alive) return done("the board is gone");
                         auto& on = static_cast<Board&>(*alive);
                         on.staging = false;
                         // The others' turn, after this job has been handed over: each looks
                         // again (most now find their files there; one that does not starts
                         // the next transfer, and the rest wait for that one).
                         for (auto& next : std::exchange(on.waiting, {})) asio::post(*io_, std::move(next));
                         if (!result) return done(on.name() + ": " + result.error().message);
                         on.set_prefix(result->prefix);
                         for (const auto& entry : needed) on.placed[entry.path] = {entry.size, entry.mtime_ns};
                         bytes_sent_ += result->bytes_sent;
                         if (result->bytes_sent)
                           log_debug("{}: sent {} files, {} bytes", on.name(), result->files_sent, result->bytes_sent);
                         place_frame(on, *job);
                         done(std::nullopt);
                       });
  }

  // sync_back: what the test wrote under its cwd and the shares comes back.
  void after(Machine& machine, const std::shared_ptr<MachineJob>& job, std::function<void()> done) override {
    auto& board = static_cast<Board&>(machine);
    AgentSession* session = board.session();
    if (!config_.boards.at(board.report_name()).sync_back || !session) return done();
    std::vector<std::string> dirs{job->host_cwd};
    for (const auto& share : config_.target(target_).shares) dirs.push_back(real_path(share));
    // Since the job began, plus a second of slack for a board clock's coarse file times.
    const auto ran = std::chrono::steady_clock::now() - job->dispatched_at;
    const auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(ran).count() + 1000;
    session->pull_files(
        dirs, static_cast<std::uint32_t>(ago), [name = board.name(), program = job->host_path, done](auto result) {
          if (!result) {
            print_warning(name + ": cannot copy back what the test wrote (sync_back): " + result.error().message);
            return done();
          }
          if (result->files) log_debug("{}: copied back {} files, {} bytes", name, result->files, result->bytes);
          if (result->refused_count) {
            std::string message = name + ": sync_back did not copy back " + std::to_string(result->refused_count) +
                                  " file(s) that " + program + " wrote there (they stay on the board):";
            for (const auto& why : result->refused) message += "\n  " + why;
            if (result->refused_count > result->refused.size())
              message += "\n  and " + std::to_string(result->refused_count - result->refused.size()) + " more";
            print_warning(message);
          }
          done();
        });
  }

  void shutdown() override {
    if (stopping_) return;
    stopping_ = true;
    *alive_ = false;
    for (auto& thread : resetters_)
      if (thread.joinable()) thread.join();
    resetters_.clear();
    if (bytes_sent_ || get_env("XRUN_BOARD_REPORT_TRANSFER"))
      log_debug("boards of {}: {} bytes of files sent", target_, bytes_sent_);
    if (auto path = get_env("XRUN_BOARD_TRANSFER_FILE"))
      write_file_atomically(*path, std::to_string(bytes_sent_) + "\n");
    std::error_code ec;
    fs::remove_all(work_dir_, ec);
  }

 private:
  const Config& config_;
  bool warned_home_ = false;  // the cwd is $HOME: said once a run
  std::string target_;
  std::vector<std::string> boards_;
  std::string work_dir_;
  FileMirror mirror_;
  std::uint64_t bytes_sent_ = 0;
  asio::io_context* io_ = nullptr;
  std::map<std::size_t, int> resets_;
  std::map<std::size_t, std::weak_ptr<Board>> made_;
  std::vector<std::thread> resetters_;
  bool stopping_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // what a reset thread's answer checks
  static constexpr double kResetSeconds = 300;
};

}  // namespace

Expected<std::string> board_agent_for(const std::string& uname_machine, std::string_view part) {
  const std::string arch = agent_arch_for(uname_machine);
  const VmArch* vm_arch = arch.empty() ? nullptr : find_vm_arch(arch);
  if (!vm_arch) return make_error(ExitCode::InfraError, "xrun has no agent for a board that is " + uname_machine);
  return find_guest_part(*vm_arch, part);
}

std::unique_ptr<MachinePool> make_board_runner(asio::io_context& io, const Config& config, bool fork_server) {
  return std::make_unique<MachinePool>(
      io, fork_server, [&config](const std::string& target) -> Expected<std::unique_ptr<MachineFleet>> {
        const auto& boards = config.target(target).boards;
        if (boards.empty())
          return make_error(ExitCode::Usage, "backend \"board\" for " + target +
                                                 " needs boards: name them in [targets." + target +
                                                 "] as boards = [\"NAME\", ...], each a [boards.NAME]");
        auto work_dir = make_board_work_dir();
        if (!work_dir) return work_dir.error();
        return std::unique_ptr<MachineFleet>(std::make_unique<BoardFleet>(config, target, boards, *work_dir));
      });
}

}  // namespace xrun
