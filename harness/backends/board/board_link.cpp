#include "backends/board/board_link.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <sstream>

#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "core/sha256.h"
#include "machine/agent_session.h"
#include "machine/guest_parts.h"

namespace xrun {

using Clock = std::chrono::steady_clock;

namespace {

// Run by the board's own shell: where the agent lives and what the board is.
// Every line is NAME=VALUE; only POSIX sh and busybox-level tools. The
// arguments are the names of the agent builds and fork-server libraries
// xrun would run: those present are listed with their SHA-256 (empty
// without sha256sum), which install_agent() checks before running one.
// The directory is the user's cache, else /tmp/xrun-agent-UID made 0700;
// `ls -ldn` shows its owner and mode, which install_agent() checks too: in
// /tmp, another user may have made it first and put a program there.
constexpr const char* kProbe =
    "d=\"${XDG_CACHE_HOME:-$HOME/.cache}/xrun-agent\"; "
    "{ mkdir -p \"$d\" 2>/dev/null && [ -w \"$d\" ]; } || "
    "{ d=/tmp/xrun-agent-$(id -u); mkdir -m 700 \"$d\" 2>/dev/null; }; "
    "chmod 700 \"$d\" 2>/dev/null; "
    "echo \"machine=$(uname -m)\"; echo \"dir=$d\"; echo \"clock=$(date +%s)\"; "
    "echo \"uid=$(id -u)\"; echo \"dir_owner_mode=$(ls -ldn \"$d\" 2>/dev/null | awk '{print $3, $1}')\"; "
    "echo \"free=$(df -Pk \"$d\" 2>/dev/null | tail -n 1 | awk '{print $4}')\"; "
    "for f in \"$@\"; do [ -f \"$d/$f\" ] && "
    "echo \"have=$f $(sha256sum < \"$d/$f\" 2>/dev/null | cut -c1-64)\"; done; "
    "for l in /lib/*-linux-*/libc.so.6 /usr/lib/*-linux-*/libc.so.6 /lib/libc.so.6; do "
    "[ -x \"$l\" ] && { echo \"libc=$(\"$l\" 2>/dev/null | head -n 1)\"; break; }; done; true";

// What xrun sends to a board, named by its content's hash: the agent build
// for a `uname -m`, or its fork-server library.
struct BoardPart {
  std::string name, bytes, sha256;
};

Expected<BoardPart> board_part(const std::string& machine, GuestPart part) {
  auto path = board_guest_part(machine, part);
  if (!path) return path.error();
  auto bytes = read_file(*path);
  if (!bytes) return make_error(ExitCode::InfraError, "cannot read " + *path);
  BoardPart out;
  out.sha256 = sha256_hex(*bytes);
  out.name = (part == GuestPart::ForkServer ? "zygote-" + out.sha256.substr(0, 16) + ".so"
                                            : "agent-" + out.sha256.substr(0, 16));
  out.bytes = std::move(*bytes);
  return out;
}

// Every board `uname -m` xrun has an agent for (agent_arch_for).
constexpr const char* kAgentMachines[] = {"aarch64", "armv7l"};

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

Expected<std::string> board_guest_part(const std::string& uname_machine, GuestPart part) {
  const GuestArch* arch = find_guest_arch(agent_arch_for(uname_machine));
  if (!arch) return make_error(ExitCode::InfraError, "xrun has no agent for a board that is " + uname_machine);
  return find_guest_part(*arch, part);
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
  const auto start_master = [&]() -> Expected<bool> {
    auto started = spawn_piped(ssh("", master_options), log_);  // its stdin and stdout close here
    if (!started) return started.error();
    std::lock_guard lock(master_mutex_);
    if (stopping_) return make_error(ExitCode::InfraError, "stopped");  // killed as `started` goes
    master_ = std::move(started->process);
    return true;
  };
  // What the waits below wake on: the master's end (its pidfd, a copy: stop()
  // may end it meanwhile), stop(), and a new name in the socket's directory
  // (ssh links the socket into place once the master is up: inotify).
  Fd master_ended;
  const auto watch_master = [&]() -> Expected<bool> {
    std::lock_guard lock(master_mutex_);
    if (!master_) return make_error(ExitCode::InfraError, "stopped");
    auto copy = duplicate_fd(master_.pidfd());
    if (!copy) return copy.error();
    master_ended = std::move(*copy);
    return true;
  };
  Fd created(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (created && ::inotify_add_watch(created.get(), std::filesystem::path(endpoint_.control_path).parent_path().c_str(),
                                     IN_CREATE | IN_MOVED_TO) < 0)
    created.reset();
  // Up to `ms`, or until one of those happens.
  const auto wait_for_news = [&](int ms) {
    pollfd fds[3] = {{stop_event_.get(), POLLIN, 0}, {master_ended.get(), POLLIN, 0}, {created.get(), POLLIN, 0}};
    if (::poll(fds, 3, ms) > 0 && (fds[2].revents & POLLIN)) {
      alignas(inotify_event) char events[4096];
      while (::read(created.get(), events, sizeof events) > 0) {
      }
    }
  };
  if (auto master = start_master(); !master) return master.error();
  if (auto watched = watch_master(); !watched) return watched.error();
  for (;;) {
    bool exited;
    {
      std::lock_guard lock(master_mutex_);
      exited = !master_ || master_.try_reap().has_value();
      if (exited) master_ = ChildProcess();
    }
    if (stopping_) return make_error(ExitCode::InfraError, "stopped");
    if (exited) {
      const std::string said = read_file(log_).value_or("");
      const bool transient = said.find("kex_exchange_identification") != std::string::npos ||
                             said.find("Connection closed by remote host") != std::string::npos ||
                             said.find("Connection reset by peer") != std::string::npos;
      if (transient && Clock::now() + std::chrono::milliseconds(300) < deadline) {
        // The SSH server is not up yet, and nothing announces when it is:
        // tried again after a pause (which stop() cuts short).
        master_ended.reset();
        wait_for_news(250);
        if (stopping_) return make_error(ExitCode::InfraError, "stopped");
        std::error_code ec;
        std::filesystem::remove(log_, ec);  // what the next attempt says is what counts
        if (auto master = start_master(); !master) return master.error();
        if (auto watched = watch_master(); !watched) return watched.error();
        continue;
      }
      refused_ = said.find("Host key verification failed") != std::string::npos ||
                 said.find("Permission denied") != std::string::npos;
      return make_error(ExitCode::InfraError, explain_ssh_failure(endpoint_, said));
    }
    if (Clock::now() > deadline)
      return make_error(ExitCode::InfraError, "board " + endpoint_.board + ": no SSH connection within " +
                                                  std::to_string(static_cast<int>(timeout + 2)) +
                                                  " s (connect_timeout)" +
                                                  quoted_tail(read_file(log_).value_or(""), 3));
    if (run_command(ssh("", {"-O", "check"}), "", 5).status == 0) {
      if (auto key = check_pinned_host_key(endpoint_); !key) {
        refused_ = true;
        stop();
        return key.error();
      }
      return true;
    }
    // Woken by the master's socket appearing, the master's end or stop();
    // the bound only for what no event tells (a socket made before the watch).
    wait_for_news(created ? 250 : 30);
  }
}

Expected<BoardFacts> BoardLink::probe() {
  std::vector<std::string> probe{"sh", "-c", kProbe, "xrun"};
  for (const char* machine : kAgentMachines)
    for (GuestPart part : {GuestPart::Agent, GuestPart::ForkServer})
      if (auto wanted = board_part(machine, part)) probe.push_back(wanted->name);
  const CommandResult probed = run(shell_command(probe), "", endpoint_.settings.connect_timeout + 5);
  refused_ = probed.too_much;  // its login is what prints: a power cycle would not change that
  if (probed.too_much)
    return make_error(
        ExitCode::InfraError,
        "board " + endpoint_.board + ": its shell printed " + std::to_string(kCommandOutputLimit / 1024) +
            " KiB or more in answer to the probe, which needs under 1 KiB: something in the board user's "
            "login (a shell startup file, a ForceCommand) prints; make it quiet for commands run over ssh. "
            "It began with " +
            xrun::quoted((probed.out.empty() ? probed.err : probed.out).substr(0, 80)));
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
    if (key == "have") {
      const auto space = value.find(' ');
      facts.agents[value.substr(0, space)] = space == std::string::npos ? "" : value.substr(space + 1);
    }
    if (key == "uid") facts.uid = value;
    if (key == "dir_owner_mode") facts.agent_dir_owner_mode = value;
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
                                                *endpoint_.settings.arch + " (its arch in [boards." + endpoint_.board +
                                                "])");
  return facts;
}

Expected<std::vector<std::string>> BoardLink::install_agent(const BoardFacts& facts, bool exclusive) {
  // A directory someone else made (in /tmp, before this user's first run)
  // may hold a program of theirs under the agent's predictable name: the
  // agent, and what it stores, live only in a directory of the user's own
  // that nobody else may enter.
  const auto space = facts.agent_dir_owner_mode.find(' ');
  const std::string owner = facts.agent_dir_owner_mode.substr(0, space);
  const std::string mode = space == std::string::npos ? "" : facts.agent_dir_owner_mode.substr(space + 1, 10);
  if (owner != facts.uid || mode != "drwx------")
    return make_error(ExitCode::InfraError,
                      "board " + endpoint_.board + ": xrun's agent directory " + facts.agent_dir + " is " +
                          (facts.agent_dir_owner_mode.empty() ? std::string("missing")
                                                              : "owned by uid " + owner + " with mode " + mode) +
                          ", not the board user's (uid " + facts.uid +
                          ") with mode drwx------: another user may have put a program there, so xrun does not run "
                          "one from it. Remove it on the board, or give the user a writable ~/.cache");
  auto agent = board_part(facts.machine, GuestPart::Agent);
  if (!agent) return agent.error();
  agent_file = agent->name;
  // Reused only when its content is this build's (sha256sum on the board);
  // anything else -- another content, or no way to tell -- is replaced by
  // a fresh upload. Written beside its name and renamed: a half-sent agent
  // is never run, and a running one is never written to (ETXTBSY).
  const auto verified = [&](const BoardPart& part) {
    auto it = facts.agents.find(part.name);
    return it != facts.agents.end() && it->second == part.sha256;
  };
  const auto upload = [&](const BoardPart& part, const char* file_mode) {
    const std::string script = std::string("cat > \"$1/$2.tmp.$$\" && chmod ") + file_mode +
                               " \"$1/$2.tmp.$$\" && mv -f \"$1/$2.tmp.$$\" \"$1/$2\"";
    return run(shell_command({"sh", "-c", script, "xrun", facts.agent_dir, part.name}), part.bytes, 120);
  };
  if (!verified(*agent)) {
    const CommandResult sent = upload(*agent, "700");
    if (sent.status != 0)
      return make_error(ExitCode::InfraError, "board " + endpoint_.board + ": cannot put xrun's agent in " +
                                                  facts.agent_dir + quoted_tail(sent.err, 3));
    log_debug("board {}: sent the agent ({} bytes) to {}", endpoint_.board, agent->bytes.size(), facts.agent_dir);
  }
  std::vector<std::string> command{"exec", facts.agent_dir + "/" + agent_file, "--stdio", "--store", facts.agent_dir};
  if (exclusive) command.push_back("--lock");
  // The fork-server library, sent and checked the same way (every test
  // program loads it); without it the agent execs every test.
  if (auto zygote = board_part(facts.machine, GuestPart::ForkServer))
    if (verified(*zygote) || upload(*zygote, "600").status == 0)
      command.insert(command.end(), {"--zygote", facts.agent_dir + "/" + zygote->name});
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
  auto session =
      AgentSession::open(io, channel->stdout_fd.release(), channel->stdin_fd.release(), options, std::move(events));
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
  channel->process.kill_and_reap();
  if (!answered)
    return make_error(
        ExitCode::InfraError,
        "board " + endpoint_.board + ": its agent " + agent_file + " does not speak xrun's protocol (" +
            (failed ? *failed : "no answer to HELLO in " + std::to_string(static_cast<int>(seconds)) + " s") + ")");
  return said;
}

void BoardLink::stop() {
  stopping_ = true;
  const std::uint64_t one = 1;
  if (stop_event_) (void)!::write(stop_event_.get(), &one, sizeof one);  // wakes connect()'s waits
  std::lock_guard lock(master_mutex_);
  master_ = ChildProcess();  // killed and reaped: at once after SIGKILL
}

}  // namespace xrun
