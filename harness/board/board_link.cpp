#include "board/board_link.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "board/board.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "core/sha256.h"
#include "machine/agent_session.h"

namespace xrun {

using Clock = std::chrono::steady_clock;

namespace {

// Run by the board's own shell: where the agent lives and what the board is.
// Every line is NAME=VALUE; only POSIX sh and busybox-level tools.
constexpr const char* kProbe =
    "d=\"${XDG_CACHE_HOME:-$HOME/.cache}/xrun-agent\"; "
    "{ mkdir -p \"$d\" 2>/dev/null && [ -w \"$d\" ]; } || "
    "{ d=/tmp/xrun-agent-$(id -u); mkdir -p \"$d\" && chmod 700 \"$d\"; }; "
    "echo \"machine=$(uname -m)\"; echo \"dir=$d\"; echo \"clock=$(date +%s)\"; "
    "echo \"free=$(df -Pk \"$d\" 2>/dev/null | tail -n 1 | awk '{print $4}')\"; "
    "for f in \"$d\"/agent-* \"$d\"/zygote-*; do [ -f \"$f\" ] && echo \"have=${f##*/}\"; done; "
    "for l in /lib/*-linux-*/libc.so.6 /usr/lib/*-linux-*/libc.so.6 /lib/libc.so.6; do "
    "[ -x \"$l\" ] && { echo \"libc=$(\"$l\" 2>/dev/null | head -n 1)\"; break; }; done; true";

}  // namespace

Expected<std::string> make_board_work_dir() {
  constexpr std::string_view kPrefix = "xrun-b-", kMarker = ".xrun-boards";
  remove_stale_run_dirs("/tmp", kPrefix, kMarker);
  return make_run_dir("/tmp", kPrefix, kMarker);
}

std::string agent_arch_for(const std::string& machine) {
  if (machine == "aarch64" || machine == "arm64") return "aarch64";
  if (machine.rfind("armv", 0) == 0) return "armhf";
  return "";
}

BoardLink::BoardLink(std::string name, BoardSettings settings, const std::string& work_dir) {
  endpoint_.board = std::move(name);
  endpoint_.settings = std::move(settings);
  endpoint_.control_path = join_path(work_dir, endpoint_.board + ".ctl");
  if (endpoint_.settings.host_key) endpoint_.known_hosts = join_path(work_dir, endpoint_.board + ".known_hosts");
  log_ = join_path(work_dir, endpoint_.board + ".log");
}

BoardLink::~BoardLink() { stop(); }

std::vector<std::string> BoardLink::ssh(const std::string& remote, std::vector<std::string> options) const {
  std::vector<std::string> argv{"ssh"};
  for (auto& o : ssh_options(endpoint_)) argv.push_back(std::move(o));
  for (auto& o : options) argv.push_back(std::move(o));
  argv.push_back(endpoint_.settings.host);
  if (!remote.empty()) argv.push_back(remote);
  return argv;
}

CommandResult BoardLink::run(const std::string& remote, const std::string& input, double seconds) const {
  return run_command(ssh(remote, {"-o", "ControlMaster=no"}), input, seconds);
}

Expected<bool> BoardLink::connect() {
  const double timeout = endpoint_.settings.connect_timeout;
  if (stopping_) return make_error(ExitCode::InfraError, "stopped");
  std::vector<std::string> master_options{"-M", "-N", "-o", "ControlMaster=yes", "-o", "ControlPersist=no"};
  if (pinned()) {
    std::error_code ec;
    std::filesystem::remove(endpoint_.known_hosts, ec);  // only what this connection meets
  }
  // qemu's user-mode network (and many a NAT) accepts the TCP connection
  // before the SSH server is up, and Dropbear closes a connection at once
  // while it has five unauthenticated ones from the address: the master is
  // started again on such a failure, and waited for, up to connect_timeout.
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<long>((timeout + 2) * 1000));
  const auto start_master = [&]() -> Expected<PipedChild> {
    auto started = spawn_piped(ssh("", master_options), log_);
    if (!started) return started.error();
    ::close(started->stdin_fd);
    ::close(started->stdout_fd);
    master_pid_ = started->pid;
    return started;
  };
  auto master = start_master();
  if (!master) return master.error();
  for (;;) {
    int status = 0;
    if (::waitpid(master->pid, &status, WNOHANG) == master->pid) {
      master_pid_ = -1;
      const std::string said = read_file(log_).value_or("");
      const bool transient = said.find("kex_exchange_identification") != std::string::npos ||
                             said.find("Connection closed by remote host") != std::string::npos ||
                             said.find("Connection reset by peer") != std::string::npos;
      if (transient && !stopping_ && Clock::now() + std::chrono::milliseconds(300) < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        std::error_code ec;
        std::filesystem::remove(log_, ec);  // what the next attempt says is what counts
        master = start_master();
        if (!master) return master.error();
        continue;
      }
      refused_ = said.find("Host key verification failed") != std::string::npos ||
                 said.find("Permission denied") != std::string::npos;
      return make_error(ExitCode::InfraError, explain_ssh_failure(endpoint_, said));
    }
    if (stopping_) return make_error(ExitCode::InfraError, "stopped");
    if (Clock::now() > deadline)
      return make_error(ExitCode::InfraError, "board " + endpoint_.board + ": no SSH connection within " +
                                                  std::to_string(static_cast<int>(timeout + 2)) + " s (connect_timeout)" +
                                                  quoted_tail(read_file(log_).value_or(""), 3));
    if (run_command(ssh("", {"-O", "check"}), "", 5).status == 0) {
      if (auto key = check_pinned_host_key(endpoint_); !key) {
        refused_ = true;
        stop();
        return key.error();
      }
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
}

Expected<BoardFacts> BoardLink::probe() {
  const CommandResult probed = run(shell_command({"sh", "-c", kProbe}), "", endpoint_.settings.connect_timeout + 5);
  refused_ = probed.too_much;  // its login is what prints: a power cycle would not change that
  if (probed.too_much)
    return make_error(ExitCode::InfraError,
                      "board " + endpoint_.board + ": its shell printed " + std::to_string(kCommandOutputLimit / 1024) +
                          " KiB or more in answer to the probe, which needs under 1 KiB: something in the board user's "
                          "login (a shell startup file, a ForceCommand) prints; make it quiet for commands run over ssh. "
                          "It began with " + xrun::quoted((probed.out.empty() ? probed.err : probed.out).substr(0, 80)));
  if (probed.status != 0)
    return make_error(ExitCode::InfraError, "board " + endpoint_.board + ": the probe in its shell failed (status " +
                                                std::to_string(probed.status) + ")" + quoted_tail(probed.err, 3));
  BoardFacts facts;
  std::istringstream lines(probed.out);
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "machine") facts.machine = value;
    if (key == "dir") facts.agent_dir = value;
    if (key == "have") facts.agents.push_back(value);
    if (key == "free" && !value.empty()) facts.free_kb = std::atoll(value.c_str());
    if (key == "clock" && !value.empty()) facts.clock = std::atoll(value.c_str());
    if (key == "libc") {
      // "GNU C Library (Debian GLIBC 2.36-9+deb12u7) stable release version 2.36."
      const auto at = value.rfind("version ");
      if (at != std::string::npos) {
        facts.libc = value.substr(at + 8);
        while (!facts.libc.empty() && (facts.libc.back() == '.' || facts.libc.back() == ',')) facts.libc.pop_back();
      }
    }
  }
  if (facts.machine.empty() || facts.agent_dir.empty())
    return make_error(ExitCode::InfraError, "board " + endpoint_.board + ": its shell did not answer the probe (got " +
                                                xrun::quoted(probed.out.substr(0, 200)) + ")");
  if (endpoint_.settings.arch && *endpoint_.settings.arch != facts.machine)
    return make_error(ExitCode::InfraError, "board " + endpoint_.board + " is " + facts.machine + ", not " +
                                                *endpoint_.settings.arch + " (its arch in [boards." + endpoint_.board + "])");
  return facts;
}

Expected<std::vector<std::string>> BoardLink::install_agent(const BoardFacts& facts, bool exclusive) {
  auto agent = board_agent_for(facts.machine);
  if (!agent) return agent.error();
  auto bytes = read_file(*agent);
  if (!bytes) return make_error(ExitCode::InfraError, "cannot read " + *agent);
  agent_file = "agent-" + sha256_hex(*bytes).substr(0, 16);
  if (std::find(facts.agents.begin(), facts.agents.end(), agent_file) == facts.agents.end()) {
    // Written beside its name and renamed: a half-sent agent is never run,
    // and a running one is never written to (ETXTBSY).
    const std::string upload =
        "mkdir -p \"$1\" && cat > \"$1/$2.tmp.$$\" && chmod 755 \"$1/$2.tmp.$$\" && mv -f \"$1/$2.tmp.$$\" \"$1/$2\"";
    const CommandResult sent = run(shell_command({"sh", "-c", upload, "xrun", facts.agent_dir, agent_file}), *bytes, 120);
    if (sent.status != 0)
      return make_error(ExitCode::InfraError, "board " + endpoint_.board + ": cannot put xrun's agent in " +
                                                  facts.agent_dir + quoted_tail(sent.err, 3));
    log_debug("board {}: sent the agent ({} bytes) to {}", endpoint_.board, bytes->size(), facts.agent_dir);
  }
  std::vector<std::string> command{"exec", facts.agent_dir + "/" + agent_file, "--stdio", "--store", facts.agent_dir};
  if (exclusive) command.push_back("--lock");
  // The fork-server library, sent the same way; without it the agent execs every test.
  if (auto zygote = board_agent_for(facts.machine, "xrun-zygote")) {
    if (auto library = read_file(*zygote)) {
      const std::string name = "zygote-" + sha256_hex(*library).substr(0, 16) + ".so";
      bool there = false;
      for (const auto& have : facts.agents) there |= have == name;
      const std::string upload =
          "mkdir -p \"$1\" && cat > \"$1/$2.tmp.$$\" && mv -f \"$1/$2.tmp.$$\" \"$1/$2\"";
      if (there || run(shell_command({"sh", "-c", upload, "xrun", facts.agent_dir, name}), *library, 120).status == 0)
        command.insert(command.end(), {"--zygote", facts.agent_dir + "/" + name});
    }
  }
  return ssh(shell_command(command), {"-o", "ControlMaster=no"});
}

Expected<std::string> BoardLink::check_agent(const BoardFacts& facts, const std::vector<std::string>& command,
                                             double seconds) {
  const std::string expected = "xrun-agent protocol " + std::to_string(XRUN_AGENT_PROTOCOL_VERSION);
  const CommandResult version = run(shell_command({facts.agent_dir + "/" + agent_file, "--version"}), "", seconds);
  std::string said = version.out;
  while (!said.empty() && (said.back() == '\n' || said.back() == '\r')) said.pop_back();
  if (version.status != 0)
    return make_error(ExitCode::InfraError, "board " + endpoint_.board + ": its agent " + agent_file +
                                                " does not start (status " + std::to_string(version.status) + ")" +
                                                quoted_tail(version.err, 3));
  if (said != expected)
    return make_error(ExitCode::InfraError, "board " + endpoint_.board + ": its agent " + agent_file + " says " +
                                                xrun::quoted(said.substr(0, 200)) + ", not " + xrun::quoted(expected));
  // The round trip a run begins with, through the same session code.
  auto channel = spawn_piped(command, log_);
  if (!channel) return channel.error();
  boost::asio::io_context io;
  std::optional<std::string> failed;
  bool answered = false;
  AgentSession::Events events;
  events.ready = [&](const std::string&) {
    answered = true;
    io.stop();
  };
  events.closed = [&](const std::string& reason) {
    failed = reason;
    io.stop();
    return reason;
  };
  AgentSession::Options options;
  options.name = "board " + endpoint_.board;
  auto session = AgentSession::open(io, channel->stdout_fd, channel->stdin_fd, options, std::move(events));
  session->hello(0x600d);
  boost::asio::steady_timer deadline(io, std::chrono::milliseconds(static_cast<long>(seconds * 1000)));
  deadline.async_wait([&](const auto& error) {
    if (!error) io.stop();
  });
  io.run();
  session->close("checked");
  io.restart();
  io.poll();  // the reads close() cancelled let go of the session before the loop goes
  session.reset();
  ::kill(-channel->pid, SIGKILL);
  ::kill(channel->pid, SIGKILL);
  ::waitpid(channel->pid, nullptr, 0);
  if (!answered)
    return make_error(ExitCode::InfraError,
                      "board " + endpoint_.board + ": its agent " + agent_file + " does not speak xrun's protocol (" +
                          (failed ? *failed : "no answer to HELLO in " + std::to_string(static_cast<int>(seconds)) + " s") +
                          ")");
  return said;
}

void BoardLink::stop() {
  stopping_ = true;
  const pid_t pid = master_pid_.exchange(-1);
  if (pid <= 0) return;
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace xrun
