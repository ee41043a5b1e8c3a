// A fork server under qemu-user: a dynamically linked test binary started
// once, with the fork-server library preloaded (images/agent/zygote.c, the
// same library system mode's agent preloads in the VM). The library lets the
// binary load, relocate and run its static initialisers, then waits in
// main(); for each request it forks, and the child runs main with the
// request's argv. A guest fork is a host fork of qemu that inherits
// everything already loaded and translated, so a test per process costs a
// fork instead of a whole emulated start (docs/measured.md, "Launch cost": 54 ms -> 19 ms for a
// GoogleTest case).
//
// The server runs in a PID namespace of its own, like an exec'd job
// (job_namespace.h): what its tests leave running ends with it, at the end
// of the run or when xrun dies, not with each test.
//
// The child is a process of its own: its own process group (signalled by
// xrun for timeouts and Ctrl-C exactly as an exec'd job), its own stdio
// pipes, handed over with the request, and its own TMPDIR. Its wait status
// comes back over the server's socket (it is the server's child, not
// xrun's). A server serves one child at a time; ProcessRunner keeps one per
// binary and job slot.
//
// What the library itself changes is undone in the child: LD_PRELOAD and
// XRUN_ZYGOTE_FD are gone from its environment, the socket is closed, argv
// is the request's; /proc/self/exe is the binary, as qemu shows it.
#pragma once

#include <sys/types.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/child_process.h"
#include "core/expected.h"
#include "launch/launcher.h"

namespace xrun {

class ForkServer : public std::enable_shared_from_this<ForkServer> {
 public:
  // Starts `plan` (the binary under qemu-user, with arguments that do no
  // harm if it runs main itself) as a server:
  // LD_PRELOAD=`library` for the guest only. It is ready once the library
  // says so; a server that is not ready within `ready_seconds` (a static
  // initialiser that hangs) is killed.
  static Expected<std::shared_ptr<ForkServer>> start(boost::asio::io_context& io, LaunchPlan plan,
                                                     const std::string& library, const std::string& cwd,
                                                     double ready_seconds);
  ~ForkServer();

  // `ready(true)` once the server waits for requests, `ready(false)` if it
  // died or hung first. At once when that is already known.
  void when_ready(std::function<void(bool)> ready);

  struct Exit {
    bool ok = false;  // false: the server died before the child's status came
    int wait_status = 0;
  };
  // One child with this argv, the environment changes `set_env` and these
  // stdin, stdout and stderr (the server gets copies; the caller closes its
  // own). `started` gets the child's pid, or -1 when the server could not
  // fork (it is then dead); `exited` comes after a pid, once.
  void fork(const std::vector<std::string>& argv, const std::vector<std::string>& set_env, std::array<int, 3> fds,
            std::function<void(pid_t)> started, std::function<void(Exit)> exited);

  // Why a server that did not become ready will not serve, when it said
  // (its program's static initialisers started threads); else "".
  const std::string& refusal() const { return refusal_; }
  bool ready() const { return state_ == State::Ready; }
  bool dead() const { return state_ == State::Dead; }
  bool busy() const { return busy_; }
  pid_t pid() const { return process_.pid(); }
  // Kills the server (and with it a child it is running) and reaps it, in
  // place: when this returns nothing of it is left (for the end of a run).
  // A server that was ready gets a second to leave by itself, waited for on
  // its pidfd.
  void kill();
  // The same without blocking the loop, for a server done with mid-run: its
  // socket closes, it has a second (an asio timer) to leave by itself, then
  // is killed; `done` once it is reaped. Holds itself until then.
  void stop(std::function<void()> done = nullptr);

 private:
  enum class State { Starting, Ready, Dead };
  ForkServer(boost::asio::io_context& io, ChildProcess process, int socket);
  void read_int(std::function<void(bool, int)> done);
  pid_t host_pid(pid_t reported) const;
  pid_t descendant_with_inner_pid(pid_t inner) const;  // -1: none
  void died();
  void kill_now();  // SIGKILL to the server and the job process, reaped

  boost::asio::posix::stream_descriptor socket_;
  boost::asio::steady_timer ready_timer_;
  ChildProcess process_;   // the job process xrun started (and reaps)
  pid_t server_pid_ = -1;  // the server itself, once ready: the job process or, in a namespace, its pid 2
  State state_ = State::Starting;
  bool busy_ = false;
  std::vector<std::function<void(bool)>> waiting_;
  std::function<void(Exit)> exited_;  // of the child being served
  std::string refusal_;
  std::array<char, 4> buffer_{};
};

}  // namespace xrun
