// How xrun talks to a board: through the user's own OpenSSH client, so
// ~/.ssh/config aliases, ProxyJump, ssh-agent and certificates work as they
// do for the user. One master connection per board (ControlMaster) carries
// everything else: the probe, the agent's upload, the agent's channel.
//
// Never StrictHostKeyChecking=no: a pinned host_key is checked against the
// key the master connection met (recorded in a known_hosts file of the
// run's own) before anything runs through it; without a pin, the user's
// known_hosts decides, and an unknown key fails with the fingerprint to pin.
// ssh's exit status means nothing about a program (255 is also "killed by a
// signal"): programs run under the agent, whose protocol says how they ended.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "backends/board/board_settings.h"
#include "core/child_process.h"
#include "core/expected.h"
#include "core/fd.h"
#include "core/process_util.h"

namespace xrun {

struct SshEndpoint {
  std::string board;  // its name in [boards.NAME]
  BoardSettings settings;
  std::string control_path;  // the master's socket (short: sun_path holds 108 bytes)
  std::string known_hosts;   // with a pin: a file holding just the pinned key
};

// ssh's options for the board, before the host: -F/-l/-p/-i, BatchMode,
// timeouts, the master's socket, host key checking.
std::vector<std::string> ssh_options(const SshEndpoint& endpoint);

// A remote command for ssh: `words` joined, each quoted for the board's
// POSIX shell (ssh hands the command line to the user's shell).
std::string shell_command(const std::vector<std::string>& words);

// The last `count` non-empty lines of what ssh (or a board) said, each on a
// line of its own indented under a message.
std::string quoted_tail(const std::string& text, std::size_t count);

// What run_command keeps of each stream at most. Every command xrun runs
// this way answers in a few lines (the probe in under 1 KiB): a board whose
// login prints endlessly must not fill xrun's memory (8.4 GB in 20 s, issue 25).
inline constexpr std::size_t kCommandOutputLimit = 64 * 1024;
// Runs argv with `input` on its stdin, for at most `timeout` seconds (then
// SIGKILL), and until it printed `max_output` bytes on either stream (then
// SIGKILL, and too_much); in a process group of its own, dying with xrun
// (PR_SET_PDEATHSIG). run_helper() (core/process_util.h) with stderr captured.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input, double timeout,
                          std::size_t max_output = kCommandOutputLimit);

struct PipedChild {
  ChildProcess process;
  Fd stdin_fd;   // write: the child's stdin
  Fd stdout_fd;  // read: the child's stdout
};
// Starts argv with pipes to its stdin and stdout, stderr appended to
// `stderr_log`; in a process group of its own, dying with xrun.
Expected<PipedChild> spawn_piped(const std::vector<std::string>& argv, const std::string& stderr_log);

// The fingerprints of the key the board presents now (one connection, no
// authentication; `scratch` is a temporary known_hosts file).
Expected<std::vector<std::string>> fetch_host_key(const SshEndpoint& endpoint, const std::string& scratch);
// A pinned board: the key the master's connection met is the pinned one.
Expected<bool> check_pinned_host_key(const SshEndpoint& endpoint);
// ssh's failure in words; for "Host key verification failed", which
// fingerprint to pin.
std::string explain_ssh_failure(const SshEndpoint& endpoint, const std::string& stderr_text);

}  // namespace xrun
