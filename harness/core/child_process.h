// Owned children. A `ChildProcess` owns one child of xrun's: its pid, a
// pidfd (how its end is noticed, on the io_context or in poll), its process
// group. It signals the group, kills with escalation on asio timers, reaps
// without blocking, and when it goes it kills and reaps a child still there:
// no child outlives its owner, and none is left a zombie.
//
// Every process xrun starts goes through one prelude (run_child_prelude),
// written once: spawn_process() for helpers, ssh and qemu, and
// engine/spawn.cpp's jobs (vfork, the job init, namespaces, a channel at 3).
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/expected.h"
#include "core/fd.h"

namespace xrun {

class ChildProcess {
 public:
  ChildProcess() = default;
  // Takes `pid`, a child of this process (in a group of its own when
  // `own_group`), and opens its pidfd; if that fails the child is killed
  // and reaped, and the error says why.
  static Expected<ChildProcess> adopt(pid_t pid, bool own_group);
  ChildProcess(ChildProcess&& other) noexcept = default;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // A child still there is killed (SIGKILL to its group and to it) and reaped.
  ~ChildProcess();

  // Holds a child (reaped or not).
  explicit operator bool() const { return state_ != nullptr; }
  pid_t pid() const;
  int pidfd() const;  // readable once the child ended; -1 when none
  bool reaped() const;
  // Its wait status once reaped; -1 when it was reaped by someone else.
  std::optional<int> wait_status() const;

  // `sig` to its process group (to it alone when it has none of its own).
  // After it was reaped the group may still hold what it started: signalled
  // too. False when nothing received it.
  bool signal(int sig) const;
  // Ended (a zombie not yet reaped counts), without reaping it.
  bool has_exited() const;
  // Reaps it if it ended; its wait status then. Never blocks.
  std::optional<int> try_reap();
  // Waits for its end, blocking: for synchronous helpers only, never in
  // code the io_context's loop runs (there: async_wait).
  int wait();
  // SIGKILL to its group and to it, then reaped (a blocking waitpid, at
  // once after SIGKILL of our own child). Its wait status.
  int kill_and_reap();
  // `done(status)` on `io` once it ended and was reaped (-1: reaped by
  // someone else). One at a time; never called once this object is gone.
  void async_wait(boost::asio::io_context& io, std::function<void(int)> done);
  // SIGTERM to its group now, SIGKILL after `grace` if it is still there
  // (an asio timer, not a sleep); `done(status)` once reaped.
  void kill_with_escalation(boost::asio::io_context& io, std::chrono::steady_clock::duration grace,
                            std::function<void(int)> done);
  // Gives the child up (nobody will reap it here); its pid.
  pid_t release();

 private:
  struct State;
  static void arm(const std::shared_ptr<State>& state);
  std::shared_ptr<State> state_;
};

// What every child does between fork (or vfork) and exec, once for all:
// a process group of its own, PR_SET_PDEATHSIG=SIGKILL (checked against the
// parent: if xrun is gone already, it gives up), default signal dispositions
// and an empty mask, exactly its stdio, every other descriptor close-on-exec
// except a channel at 3. Only system calls on what is here: safe after vfork.
struct ChildPrelude {
  pid_t parent = -1;  // getpid() before the fork
  bool own_group = true;
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // -1: /dev/null
  int channel_fd = -1;                                // becomes descriptor 3, open across exec; -1: none
  int error_fd = -1;                                  // the close-on-exec pipe a failed exec's errno goes to
  int error_fd_above = 3;  // the error pipe is moved above this (out of the channel's, an init's way)
  // Right after the group is made, before the death signal (fork only):
  // e.g. entering namespaces. False: the child gives up.
  bool (*enter)(const void* arg) = nullptr;
  const void* enter_arg = nullptr;
};
// Returns the error pipe's descriptor (moved), or -1 when the child must
// give up (_exit(127)).
int run_child_prelude(const ChildPrelude& c) noexcept;
// Tells the parent why the exec failed, through the error pipe, and exits 127.
[[noreturn]] void report_exec_failure(int error_fd, int err) noexcept;
// The parent's side: the errno a child reported through the error pipe
// (whose write end the parent has closed), 0 when it exec'd.
int read_exec_error(const Fd& error_read);

struct ChildSpec {
  std::vector<std::string> argv;
  bool search_path = true;                            // argv[0] looked up in PATH, else a path
  const std::vector<std::string>* env = nullptr;      // nullptr: xrun's own
  std::string cwd;                                    // "": xrun's
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // -1: /dev/null
  bool own_group = true;
  // Run in the child right after its group is made (it is then forked, not
  // vforked); false: it exits 127 (spawn_process says it could not start).
  std::function<bool()> enter;
};
// Starts argv with the prelude. The exec's failure (or the cwd's) is the
// error, with its errno's text; the child is then reaped. The caller keeps
// (and closes) its own descriptors.
Expected<ChildProcess> spawn_process(const ChildSpec& spec);

}  // namespace xrun
