#include "engine/process_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <deque>

#include "core/fs_util.h"
#include "core/log.h"
#include "engine/exit_classification.h"
#include "engine/fork_server.h"
#include "engine/spawn.h"
#include "engine/test_model.h"
#include "launch/launcher.h"
#include "launch/qemu_faults.h"
#include "target/target_table.h"

namespace xrun {

namespace asio = boost::asio;

// One of a child's output pipes.
struct ProcessRunner::Stream {
  explicit Stream(asio::io_context& io) : pipe(io) {}
  asio::posix::stream_descriptor pipe;
  std::array<char, 65536> buffer;
  bool closed = true;  // until a pipe is assigned
  bool to_error_sink = false;
  // qemu's own failure lines, looked for in each stream apart: with stderr
  // on a pipe of its own, lines of the two would otherwise interleave.
  QemuFaultScan faults;
};

struct ProcessRunner::Child {
  explicit Child(asio::io_context& io) : out(io), err(io), in(io), drain(io) {}
  ~Child() {
    for (int fd : handoff)
      if (fd >= 0) ::close(fd);
  }
  JobId id = 0;
  pid_t pid = -1;        // -1 until it started (a fork server's child may start later)
  ChildProcess process;  // an exec'd job's process (a fork server's child is the server's)
  Stream out, err;
  asio::posix::stream_descriptor in;  // the write end of the program's stdin, with forward_stdin
  std::deque<std::string> stdin_queue;
  bool stdin_writing = false, stdin_eof = false;
  asio::steady_timer drain;  // bounds the wait for EOF after exit (a grandchild may hold the pipe)
  Callbacks callbacks;
  bool exited = false;
  bool reported = false;
  JobExit exit;
  bool emulated = false;
  std::string tmp_dir;  // its private TMPDIR, removed at the end
  // A fork server's child: its status comes from the server, not waitpid.
  bool forked = false;
  // Until it starts: the program's ends of its stdin, stdout and stderr,
  // what a fork server gets (or an exec, when the server cannot start).
  std::array<int, 3> handoff{-1, -1, -1};
  std::optional<LaunchPlan> plan;  // for that exec
  std::string program, cwd;
  std::vector<std::string> server_args;  // what its fork server is started with
  double ready_seconds = 0;              // the longest its server may take to start
};

// A fork server and whether a job holds it.
struct ProcessRunner::ServerSlot {
  std::shared_ptr<ForkServer> server;
  bool claimed = false;
};

ProcessRunner::ProcessRunner(asio::io_context& io, const Config& config, OverlayStore overlays,
                             ProcessRunnerOptions options)
    : io_(io),
      config_(config),
      overlays_(std::move(overlays)),
      options_(std::move(options)),
      base_env_(current_environment()),
      tmp_dirs_(get_env("TMPDIR").value_or("/tmp")) {}

ProcessRunner::~ProcessRunner() { kill_all(); }

// Pipes of one job, closed unless handed over.
struct ProcessRunner::Pipes {
  int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
  ~Pipes() {
    for (int* pair : {out, err, in})
      for (int i = 0; i < 2; ++i)
        if (pair[i] >= 0) ::close(pair[i]);
  }
  static int take(int& fd) { return std::exchange(fd, -1); }
};

Expected<JobStarted> ProcessRunner::start(const JobRequest& request, Callbacks callbacks) {
  std::vector<std::string> env = base_env_;
  set_environment(env, request.extra_env);
  std::string tmp_dir;
  if (request.private_tmpdir) {
    if (auto dir = tmp_dirs_.make()) {
      tmp_dir = *dir;
      set_environment(env, {"TMPDIR=" + tmp_dir});
    } else {
      log_debug("no directory for the job's TMPDIR: {}", dir.error().message);
    }
  }
  struct TmpGuard {  // until the child owns it
    JobTmpDirs& dirs;
    std::string& dir;
    ~TmpGuard() {
      if (!dir.empty()) dirs.remove(dir);
    }
  } tmp_guard{tmp_dirs_, tmp_dir};

  RunRequest run;
  run.program = request.program;
  run.args = request.args;
  run.argv0 = request.argv0;
  run.target = request.target;
  run.binary = request.binary;
  run.spec = request.target_spec;
  auto plan = plan_launch(run, config_, TargetTable::builtin(), overlays_, env);
  if (!plan) return plan.error();
  log_debug("start{}: {}", request.cwd.empty() ? "" : " in " + request.cwd, plan->command_line());

  Pipes pipes;
  const auto pipe_error = [] { return make_error(ExitCode::InfraError, std::string("pipe: ") + std::strerror(errno)); };
  if (::pipe2(pipes.out, O_CLOEXEC) != 0) return pipe_error();
  if (callbacks.error_output && ::pipe2(pipes.err, O_CLOEXEC) != 0) return pipe_error();
  if (request.forward_stdin && ::pipe2(pipes.in, O_CLOEXEC) != 0) return pipe_error();
  auto child = std::make_shared<Child>(io_);
  child->id = next_id_++;
  child->callbacks = std::move(callbacks);
  child->emulated = plan->emulated;
  child->cwd = request.cwd;
  JobStarted started{child->id, "", plan->target};

  if (auto server = fork_server_for(request, *plan, env)) {
    // Forked from a fork server once it is ready: the scheduler counts the
    // test's time from then (Callbacks::started).
    child->forked = true;
    const int out = Pipes::take(pipes.out[1]);
    const int err = pipes.err[1] >= 0 ? Pipes::take(pipes.err[1]) : ::fcntl(out, F_DUPFD_CLOEXEC, 0);
    const int in = pipes.in[0] >= 0 ? Pipes::take(pipes.in[0]) : ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    child->handoff = {in, out, err};
    child->plan = std::move(*plan);
    child->program = request.program;
    child->server_args = request.fork_server_args;
    child->ready_seconds = request.deadline_seconds.value_or(3600);
    std::vector<std::string> argv{request.argv0.value_or(request.program)};
    argv.insert(argv.end(), request.args.begin(), request.args.end());
    std::vector<std::string> set_env;
    if (!tmp_dir.empty()) set_env.push_back("TMPDIR=" + tmp_dir);
    child->tmp_dir = std::exchange(tmp_dir, "");
    adopt_pipes(child, pipes);
    start_from_fork_server(child, *server, std::move(argv), std::move(set_env), request);
    started.starts_later = true;
    return started;
  }

  SpawnSpec spawn{&*plan, request.cwd, pipes.in[0], pipes.out[1], pipes.err[1] >= 0 ? pipes.err[1] : pipes.out[1]};
  auto spawned = spawn_job_process(spawn);
  if (!spawned) return spawned.error();
  for (int* fd : {&pipes.out[1], &pipes.err[1], &pipes.in[0]}) {
    if (*fd >= 0) ::close(Pipes::take(*fd));
  }
  watch_process(child, std::move(*spawned));
  child->tmp_dir = std::exchange(tmp_dir, "");
  adopt_pipes(child, pipes);
  return started;
}

void ProcessRunner::adopt_pipes(const std::shared_ptr<Child>& child, Pipes& pipes) {
  child->out.pipe.assign(Pipes::take(pipes.out[0]));
  child->out.closed = false;
  if (pipes.err[0] >= 0) {
    child->err.pipe.assign(Pipes::take(pipes.err[0]));
    child->err.closed = false;
    child->err.to_error_sink = true;
  }
  if (pipes.in[1] >= 0) {
    ::fcntl(pipes.in[1], F_SETFL, O_NONBLOCK);
    child->in.assign(Pipes::take(pipes.in[1]));
  }
  children_[child->id] = child;
  read_more(child, child->out);
  if (!child->err.closed) read_more(child, child->err);
}

void ProcessRunner::watch_process(const std::shared_ptr<Child>& child, ChildProcess process) {
  child->pid = process.pid();
  child->process = std::move(process);
  watch_exit(child);
}

// ------------------------------------------------------- fork servers ---

std::optional<ProcessRunner::ServerChoice> ProcessRunner::fork_server_for(const JobRequest& request,
                                                                          const LaunchPlan& plan,
                                                                          const std::vector<std::string>& env) {
  if (!request.fork_server || !options_.fork_server_library || request.forward_stdin || !plan.emulated ||
      !request.elf || !request.elf->interpreter)
    return std::nullopt;
  std::vector<std::string> server_env;
  for (const auto& entry : env) {
    if (entry.rfind("LD_PRELOAD=", 0) == 0) return std::nullopt;  // the user's preload wins
    if (entry.rfind("TMPDIR=", 0) != 0 || !request.private_tmpdir) server_env.push_back(entry);
  }
  const auto library = options_.fork_server_library(plan.target);
  if (!library) return std::nullopt;
  // One server serves the jobs that would start the same process: the same
  // program, argv[0], cwd and environment (but the private TMPDIR).
  std::string key = request.program + '\0' + request.argv0.value_or("") + '\0' + request.cwd + '\0' + *library;
  for (const auto& entry : server_env) key += '\0' + entry;
  if (unforkable_.count(key)) return std::nullopt;
  return ServerChoice{std::move(key), *library, std::move(server_env)};
}

void ProcessRunner::start_from_fork_server(const std::shared_ptr<Child>& child, const ServerChoice& choice,
                                           std::vector<std::string> argv, std::vector<std::string> set_env,
                                           const JobRequest& request) {
  auto& slots = servers_[choice.key];
  ServerSlot* slot = nullptr;
  for (auto& candidate : slots)
    if (!candidate.claimed && !candidate.server->dead()) slot = &candidate;
  if (!slot) {
    // A new server: idle ones of other programs go (a run goes through its
    // binaries one after another; their servers would only hold memory).
    for (auto& [key, others] : servers_) {
      if (key == choice.key) continue;
      std::erase_if(others, [](const ServerSlot& s) {
        if (s.claimed) return false;
        s.server->stop();  // without blocking the loop (fork_server.h); it holds itself until reaped
        return true;
      });
    }
    std::erase_if(slots, [](const ServerSlot& s) { return s.server->dead() && !s.claimed; });
    RunRequest run;
    run.program = child->program;
    run.args = child->server_args;
    run.argv0 = argv.front();
    run.target = child->plan->target;
    run.binary = request.binary;
    run.spec = request.target_spec;
    auto plan = plan_launch(run, config_, TargetTable::builtin(), overlays_, choice.env);
    Expected<std::shared_ptr<ForkServer>> server =
        plan ? ForkServer::start(io_, *plan, choice.library, child->cwd, child->ready_seconds)
             : Expected<std::shared_ptr<ForkServer>>(plan.error());
    if (!server) {
      log_debug("no fork server for {}: {}", child->program, server.error().message);
      unforkable_.insert(choice.key);
      asio::post(io_, [this, child] { exec_instead(child); });
      return;
    }
    std::erase_if(every_server_, [](const auto& weak) { return weak.expired(); });
    every_server_.push_back(*server);
    slots.push_back(ServerSlot{std::move(*server), false});
    slot = &slots.back();
  }
  slot->claimed = true;
  std::shared_ptr<ForkServer> server = slot->server;
  const std::string key = choice.key;
  server->when_ready([this, child, server, key, argv = std::move(argv), set_env = std::move(set_env)](bool ok) {
    if (!ok) {
      // It never got to main(): the program is started afresh, as without a
      // fork server, and so are later jobs of it (exactly the statuses of a
      // fresh process, whatever its static initialisers do).
      if (server->refusal().empty())
        log_debug("the fork server of {} did not start: tests exec it", child->program);
      else
        log_debug("no fork server for {}: {}; tests exec it", child->program, server->refusal());
      unforkable_.insert(key);
      release(key, server);
      asio::post(io_, [this, child] { exec_instead(child); });
      return;
    }
    if (child->exited) {  // cancelled while it waited
      release(key, server);
      return;
    }
    server->fork(
        argv, set_env, child->handoff,
        [this, child, key, server](pid_t pid) {
          for (int& fd : child->handoff)
            if (fd >= 0) ::close(std::exchange(fd, -1));
          if (pid <= 0) {
            release(key, server);
            end_child(child, JobExit{false, 0, 0,
                                     "the fork server of " + child->program + " died before it could start the test"});
            return;
          }
          if (child->exited) {  // ended while its request was on the way (signal_child)
            ::kill(-pid, SIGKILL);
            return;
          }
          child->pid = pid;
          if (child->callbacks.started) child->callbacks.started();
        },
        [this, child, key, server](ForkServer::Exit exit) {
          release(key, server);
          if (!exit.ok) {
            if (child->pid > 0) ::kill(-child->pid, SIGKILL);  // it may outlive its server
            end_child(child, JobExit{false, 0, 0, "the fork server of " + child->program + " died while the test ran"});
            return;
          }
          const int status = exit.wait_status;
          end_child(child,
                    WIFSIGNALED(status) ? JobExit{true, 0, WTERMSIG(status)} : JobExit{false, WEXITSTATUS(status), 0});
        });
  });
}

void ProcessRunner::release(const std::string& key, const std::shared_ptr<ForkServer>& server) {
  auto it = servers_.find(key);
  if (it == servers_.end()) return;
  for (auto& slot : it->second)
    if (slot.server == server) slot.claimed = false;
  std::erase_if(it->second, [](const ServerSlot& s) { return !s.claimed && s.server->dead(); });
}

void ProcessRunner::exec_instead(const std::shared_ptr<Child>& child) {
  if (child->exited) return;  // cancelled while it waited
  child->forked = false;
  SpawnSpec spawn{&*child->plan, child->cwd, child->handoff[0], child->handoff[1], child->handoff[2]};
  auto spawned = spawn_job_process(spawn);
  for (int& fd : child->handoff)
    if (fd >= 0) ::close(std::exchange(fd, -1));
  if (!spawned) {
    end_child(child, JobExit{false, 0, 0, spawned.error().message});
    return;
  }
  watch_process(child, std::move(*spawned));
  if (child->callbacks.started) child->callbacks.started();
}

void ProcessRunner::watch_exit(const std::shared_ptr<Child>& child) {
  // Its pidfd on the loop, reaped without blocking (core/child_process.h).
  child->process.async_wait(io_, [this, child](int status) {
    if (child->exited) return;
    end_child(child, status < 0            ? JobExit{false, 0, 0, "the job's process was reaped elsewhere"}
                     : WIFSIGNALED(status) ? JobExit{true, 0, WTERMSIG(status)}
                                           : JobExit{false, WEXITSTATUS(status), 0});
  });
}

// The job's process ended (or never could start): what is left is the
// output still in its pipes.
void ProcessRunner::end_child(const std::shared_ptr<Child>& child, JobExit exit) {
  {
    if (child->exited) return;
    child->exited = true;
    child->exit = std::move(exit);
    for (int& fd : child->handoff)
      if (fd >= 0) ::close(std::exchange(fd, -1));
    boost::system::error_code ignored;
    child->in.close(ignored);
    if (!child->out.closed || !child->err.closed) {
      child->drain.expires_after(std::chrono::seconds(2));
      child->drain.async_wait([this, child](const auto& e) {
        if (e || (child->out.closed && child->err.closed)) return;
        if (child->pid > 0) ::kill(-child->pid, SIGKILL);
        boost::system::error_code ignored_too;
        for (Stream* s : {&child->out, &child->err}) {
          s->pipe.close(ignored_too);
          s->closed = true;
        }
        maybe_finish(child);
      });
    }
    maybe_finish(child);
  }
}

void ProcessRunner::read_more(const std::shared_ptr<Child>& child, Stream& stream) {
  stream.pipe.async_read_some(asio::buffer(stream.buffer), [this, child, &stream](const auto& error, std::size_t n) {
    if (n > 0) {
      const std::string_view bytes(stream.buffer.data(), n);
      if (child->emulated) stream.faults.feed(bytes);  // qemu's own lines are on stderr, or on the one pipe
      const auto& sink = stream.to_error_sink ? child->callbacks.error_output : child->callbacks.output;
      if (sink) sink(bytes);
    }
    if (!error) {
      read_more(child, stream);
      return;
    }
    if (error == asio::error::operation_aborted && stream.closed) return;
    boost::system::error_code ignored;
    stream.pipe.close(ignored);
    stream.closed = true;
    if (child->out.closed && child->err.closed) child->drain.cancel();
    maybe_finish(child);
  });
}

void ProcessRunner::maybe_finish(const std::shared_ptr<Child>& child) {
  if (!child->exited || !child->out.closed || !child->err.closed || child->reported) return;
  child->reported = true;
  children_.erase(child->id);
  if (!child->tmp_dir.empty()) tmp_dirs_.remove(child->tmp_dir);
  // qemu failing is not the program failing (exit_classification.h).
  if (child->emulated) {
    auto line = child->err.faults.finish();
    if (!line) line = child->out.faults.finish();
    if (auto fault = emulator_fault(child->exit, line)) child->exit.infra_error = std::move(fault);
  }
  if (child->callbacks.exited) child->callbacks.exited(child->exit);
}

void ProcessRunner::send_stdin(JobId id, std::string_view bytes) {
  auto it = children_.find(id);
  if (it == children_.end() || !it->second->in.is_open() || it->second->stdin_eof) return;
  auto child = it->second;
  if (bytes.empty())
    child->stdin_eof = true;
  else
    child->stdin_queue.emplace_back(bytes);
  if (!child->stdin_writing) write_stdin(child);
}

void ProcessRunner::write_stdin(const std::shared_ptr<Child>& child) {
  boost::system::error_code ignored;
  if (child->stdin_queue.empty()) {
    child->stdin_writing = false;
    if (child->stdin_eof) child->in.close(ignored);
    return;
  }
  child->stdin_writing = true;
  asio::async_write(child->in, asio::buffer(child->stdin_queue.front()), [this, child](const auto& error, std::size_t) {
    if (error) {  // the program closed its stdin (or ended): the rest has nowhere to go
      child->stdin_queue.clear();
      child->stdin_writing = false;
      boost::system::error_code ignored_too;
      child->in.close(ignored_too);
      return;
    }
    child->stdin_queue.pop_front();
    write_stdin(child);
  });
}

void ProcessRunner::signal(JobId id, int sig) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second->exited) return;
  signal_child(it->second, sig);
}

void ProcessRunner::signal_all(int sig) {
  for (auto& [id, child] : children_)
    if (!child->exited) signal_child(child, sig);
}

void ProcessRunner::signal_child(const std::shared_ptr<Child>& child, int sig) {
  if (child->pid > 0) {
    ::kill(-child->pid, sig);
    return;
  }
  // Still waiting for its fork server (Ctrl-C, --fail-fast): it ends now,
  // as if the signal had met it at its start, not once the server is ready
  // (a server whose static initialisers take long would hold up Ctrl-C).
  // Told after this call returns, like any exit.
  asio::post(io_, [this, child, sig] {
    if (!child->exited && child->pid <= 0) end_child(child, JobExit{true, 0, sig});
  });
}

void ProcessRunner::kill_all() {
  for (auto& [id, child] : children_) {
    if (child->exited || child->pid <= 0) continue;
    ::kill(-child->pid, SIGKILL);
  }
  // Reap synchronously (at once after SIGKILL): nothing may outlive us. A
  // fork server's children are its own: they die with it (the library asks
  // for that).
  for (auto& [id, child] : children_) {
    if (!child->exited && !child->forked) child->process.kill_and_reap();
    child->exited = true;
    if (!child->tmp_dir.empty()) tmp_dirs_.remove(child->tmp_dir);
  }
  for (auto& [key, slots] : servers_)
    for (auto& slot : slots) slot.server->kill();
  servers_.clear();
  // And those still stopping (ForkServer::stop()) or dying.
  for (auto& weak : std::exchange(every_server_, {}))
    if (auto server = weak.lock()) server->kill();
}

}  // namespace xrun
