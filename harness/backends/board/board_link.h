// Reaching one board, step by step and blocking (each step may wait for the
// network up to connect_timeout): the Board machine runs these in a thread of
// its own, `xrun board check` runs them in place.
//   1. host key: a pin is checked against what the board presents;
//   2. the master connection (ssh -M, ControlPath in the run's directory),
//      which every later ssh goes through;
//   3. a probe in the board's shell: `uname -m`, where the agent is kept
//      (~/.cache/xrun-agent, or /tmp/xrun-agent-UID: either the user's own,
//      mode 0700, or refused), which agent builds are there and their
//      SHA-256, free space, its clock, its C library;
//   4. the agent, sent with `cat` unless this build is there with its
//      content (a board needs a POSIX shell, no scp or sftp), then started as
//      `exec xrun-agent-<hash> --stdio --store DIR` over ssh's stdin/stdout.
// stop() kills the master: every channel through it closes, and the agent
// kills the jobs it runs. Nothing started here outlives xrun (PDEATHSIG).
#pragma once

#include <sys/eventfd.h>
#include <sys/types.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends/board/ssh.h"
#include "config/config.h"
#include "core/expected.h"
#include "machine/guest_parts.h"

namespace xrun {

struct BoardFacts {
  std::string machine;  // uname -m
  std::string agent_dir;
  std::string uid;                   // the board user's, `id -u`
  std::string agent_dir_owner_mode;  // "UID drwx------" (ls -ldn), "" when it could not be made
  // Agent builds (and fork-server libraries) already there: name -> the
  // SHA-256 of their content ("" where the board has no sha256sum).
  std::map<std::string, std::string> agents;
  std::optional<long long> free_kb;
  std::optional<long long> clock;  // the board's time, seconds since the epoch
  std::string libc;                // "2.36", or "" when it is not glibc
};

class BoardLink {
 public:
  // `work_dir`: short (the master's socket is there), private to the run.
  BoardLink(std::string name, BoardSettings settings, const std::string& work_dir);
  ~BoardLink();
  BoardLink(const BoardLink&) = delete;
  BoardLink& operator=(const BoardLink&) = delete;

  Expected<bool> connect();  // steps 1 and 2
  Expected<BoardFacts> probe();
  // Puts this agent build there if needed; returns the command that starts it.
  // (`exclusive`: the agent takes the board's lock before it serves.)
  Expected<std::vector<std::string>> install_agent(const BoardFacts& facts, bool exclusive = false);
  // Checks that the agent install_agent() put there speaks this xrun's
  // protocol: `--version` names it, then the agent started by `command`
  // answers a HELLO within `seconds` (a program that only exits 0 is not an
  // agent). Returns what --version printed.
  Expected<std::string> check_agent(const BoardFacts& facts, const std::vector<std::string>& command, double seconds);
  // ssh through the master, running `remote` (a shell command line).
  std::vector<std::string> ssh(const std::string& remote, std::vector<std::string> options = {}) const;
  CommandResult run(const std::string& remote, const std::string& input, double seconds) const;
  // The master goes, and with it every channel; waits for nothing.
  void stop();

  const std::string& name() const { return endpoint_.board; }
  const BoardSettings& settings() const { return endpoint_.settings; }
  const std::string& log() const { return log_; }  // what ssh said
  bool pinned() const { return !endpoint_.known_hosts.empty(); }
  std::string agent_file;  // "agent-<hash>", once install_agent() ran
  // The last connect() or probe() failed although the board answered (its
  // host key, the login, a login that prints endlessly): power-cycling it
  // would not help.
  bool refused() const { return refused_; }

 private:
  SshEndpoint endpoint_;
  std::string log_;
  std::mutex master_mutex_;  // connect() runs in a board's thread, stop() on the loop
  ChildProcess master_;
  Fd stop_event_{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  std::atomic<bool> stopping_{false};
  bool refused_ = false;
};

// A run's directory for its boards' ssh state (the masters' sockets,
// known_hosts files, ssh's logs): /tmp/xrun-b-<pid>-XXXXXX, short because
// a socket's path holds 108 bytes. Those of runs killed before they could
// remove theirs (SIGKILL) are removed first: only this user's, and only
// when their xrun is gone.
Expected<std::string> make_board_work_dir();

// The agent build a board of `uname -m` runs ("aarch64", "armhf"; "" for none).
std::string agent_arch_for(const std::string& uname_machine);

// The agent build or fork-server library for a board's `uname -m`
// ("aarch64", "armv7l"; machine/guest_parts.h); an Error names what is missing.
Expected<std::string> board_guest_part(const std::string& uname_machine, GuestPart part);

}  // namespace xrun
