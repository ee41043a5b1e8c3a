#include "machine/machine_pool.h"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <climits>
#include <cstring>

#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "probe/elf_probe.h"
#include "target/target_table.h"

namespace xrun {

namespace asio = boost::asio;

struct MachinePool::Pool {
  std::string target;
  std::unique_ptr<MachineFleet> fleet;
  std::vector<std::shared_ptr<Machine>> machines;  // by slot; null: not started (or being recovered)
  std::vector<bool> retired;                       // the fleet gave up on the slot
  std::vector<bool> recovering;
  std::deque<std::shared_ptr<MachineJob>> queue;
  std::map<Machine*, std::size_t> running;  // jobs on each machine
  std::string last_error;
  std::optional<std::string> broken;  // no machine can start: every job fails with this
  bool prepared = false;              // the fleet's prepare() is done: machines may start
};

namespace {

// A machine that failed one job twice is more likely hit by the job than by bad luck.
constexpr int kMachineFailuresPerJob = 2;

}  // namespace

std::vector<std::string> build_tree_library_dirs(const ElfInfo& elf, const std::string& program,
                                                 const std::vector<std::string>& env) {
  const std::string program_dir = parent_of(program);
  std::vector<std::string> dirs;
  for (const auto& entry : elf.library_paths) {
    std::string dir = entry;
    for (const char* origin : {"${ORIGIN}", "$ORIGIN"})
      if (dir.rfind(origin, 0) == 0) dir = program_dir + dir.substr(std::strlen(origin));
    dirs.push_back(dir);
  }
  for (const auto& entry : env)
    if (entry.rfind("LD_LIBRARY_PATH=", 0) == 0)
      for (auto& dir : split_path_list(std::string_view(entry).substr(16))) dirs.push_back(std::move(dir));
  std::vector<std::string> found;
  for (const auto& dir : dirs)
    if (!dir.empty() && dir[0] == '/' && is_directory(dir)) found.push_back(real_path(dir));
  return found;
}

MachinePool::MachinePool(asio::io_context& io, bool fork_server, FleetFactory make_fleet)
    : io_(io), fork_server_(fork_server), make_fleet_(std::move(make_fleet)) {}

MachinePool::~MachinePool() { shutdown(); }

void MachinePool::shutdown() {
  // A machine killed here before it was ready reports a failed start: that
  // must not start another, nor make its fleet give up on anything.
  shutting_down_ = true;
  jobs_.clear();
  job_pool_.clear();
  for (auto& [target, pool] : pools_) {
    for (auto& machine : pool->machines) {
      if (!machine) continue;
      machine->on_death = nullptr;
      machine->kill("xrun is done with it");
    }
    pool->machines.clear();
    pool->queue.clear();
    pool->fleet->shutdown();
  }
  pools_.clear();
}

Expected<MachinePool::Pool*> MachinePool::pool_for(const std::string& target) {
  if (auto it = pools_.find(target); it != pools_.end()) return it->second.get();
  auto fleet = make_fleet_(target);
  if (!fleet) return fleet.error();
  auto pool = std::make_unique<Pool>();
  pool->target = target;
  pool->fleet = std::move(*fleet);
  const std::size_t slots = std::max<std::size_t>(1, pool->fleet->slots());
  pool->machines.resize(slots);  // started by grow()
  pool->retired.assign(slots, false);
  pool->recovering.assign(slots, false);
  Pool* raw = pool.get();
  pools_[target] = std::move(pool);
  // Machines start once the fleet has made what they share (a VM's saved
  // state takes seconds): on the loop, which meanwhile runs other jobs.
  raw->fleet->prepare(io_, [this, raw] {
    if (shutting_down_) return;
    raw->prepared = true;
    grow(*raw);
  });
  return raw;
}

// Machines start as jobs wait for them, up to one per slot: a run of one
// test boots one VM, not -j of them competing for the host's cores.
void MachinePool::grow(Pool& pool) {
  if (!pool.prepared) return;
  std::size_t spare = 0;  // room on machines starting, or ready
  for (std::size_t i = 0; i < pool.machines.size(); ++i) {
    const auto& machine = pool.machines[i];
    if (!machine || !machine->alive()) continue;
    const std::size_t capacity = pool.fleet->jobs_per_machine(i);
    const std::size_t used = machine->ready() ? pool.running[machine.get()] : 0;
    spare += capacity > used ? capacity - used : 0;
  }
  for (std::size_t i = 0; i < pool.machines.size() && spare < pool.queue.size() && !pool.broken; ++i) {
    if (pool.machines[i] || pool.retired[i] || pool.recovering[i]) continue;
    launch(pool, i);
    spare += pool.fleet->jobs_per_machine(i);
  }
}

void MachinePool::launch(Pool& pool, std::size_t slot) {
  auto machine = pool.fleet->make(io_, slot);
  pool.machines[slot] = machine;
  machine->start([this, &pool, slot, weak = std::weak_ptr<Machine>(machine)](Expected<void> up) {
    if (shutting_down_) return;
    auto started = weak.lock();
    if (!started) return;
    if (!up) {
      log_debug("{} failed to start: {}", started->name(), up.error().message);
      recover(pool, slot, false, up.error().message);
      return;
    }
    started->on_death = [this, &pool, slot](const std::string& reason) {
      // Recovered once the current call chain (the dying machine's) is over.
      asio::post(io_, [this, &pool, slot, reason] {
        if (!shutting_down_) recover(pool, slot, true, reason);
      });
    };
    dispatch(pool);
  });
}

void MachinePool::recover(Pool& pool, std::size_t slot, bool was_ready, const std::string& error) {
  const auto failed = pool.machines[slot];  // alive while its fleet decides (it may ask it why)
  if (failed) pool.running.erase(failed.get());
  pool.machines[slot] = nullptr;
  pool.last_error = error;
  pool.recovering[slot] = true;
  pool.fleet->recover(slot, was_ready, error, [this, &pool, slot](bool again) {
    if (shutting_down_) return;
    pool.recovering[slot] = false;
    if (again) {
      if (!pool.broken && !pool.machines[slot]) launch(pool, slot);
      return;
    }
    pool.retired[slot] = true;
    if (std::all_of(pool.retired.begin(), pool.retired.end(), [](bool r) { return r; })) pool.broken = pool.last_error;
    dispatch(pool);
    grow(pool);
  });
}

void MachinePool::dispatch(Pool& pool) {
  if (pool.broken) {
    auto queue = std::move(pool.queue);
    pool.queue.clear();
    for (auto& job : queue) {
      JobExit exit;
      exit.infra_error = *pool.broken;
      finish(job->id, exit);
    }
    return;
  }
  for (std::size_t i = 0; i < pool.machines.size() && !pool.queue.empty(); ++i) {
    const auto machine = pool.machines[i];
    if (!machine || !machine->alive() || !machine->ready()) continue;
    while (!pool.queue.empty() && pool.running[machine.get()] < pool.fleet->jobs_per_machine(i)) {
      auto job = pool.queue.front();
      pool.queue.pop_front();
      run_on(pool, job, machine);
    }
  }
}

void MachinePool::run_on(Pool& pool, const std::shared_ptr<MachineJob>& job, const std::shared_ptr<Machine>& machine) {
  job->machine = machine;
  ++pool.running[machine.get()];
  const JobId id = job->id;
  // What ends the job here: its exit, or the machine failing under it.
  auto ended = [this, &pool, id, weak = std::weak_ptr<Machine>(machine)](const JobExit& exit) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    auto ending = it->second;
    auto ran_on = weak.lock();
    if (ran_on && pool.running[ran_on.get()] > 0) --pool.running[ran_on.get()];
    ending->machine = nullptr;
    ending->dispatched = false;
    // The machine died under it: another one takes it, if the fleet says
    // the machine is to blame (and it has not happened to this job before).
    const bool machine_died = exit.infra_error && (!ran_on || !ran_on->alive());
    if (machine_died && pool.fleet->requeue_jobs_of_dead_machines()) {
      if (!ending->started && ++ending->machine_failures < kMachineFailuresPerJob) {
        log_debug("job {} goes to another machine: {}", id, *exit.infra_error);
        pool.queue.push_front(ending);
        asio::post(io_, [this, &pool] {
          dispatch(pool);
          grow(pool);
        });
        return;
      }
      // It had started: its output so far is the scheduler's, which runs it again.
      JobExit lost = exit;
      lost.machine_lost = true;
      finish(id, lost);
      return;
    }
    if (!exit.infra_error && ran_on && ran_on->alive()) {
      pool.fleet->after(*ran_on, ending, [this, id, exit] { finish(id, exit); });
      return;
    }
    finish(id, exit);
  };
  pool.fleet->stage(*machine, job, [this, job, machine, ended](Expected<void> staged) {
    if (!jobs_.count(job->id)) return;  // cancelled meanwhile
    AgentSession* session = machine->alive() ? machine->session() : nullptr;
    if (!staged || !session) {
      JobExit exit;
      exit.infra_error = !staged ? staged.error().message : machine->name() + " is gone";
      ended(exit);
      return;
    }
    AgentSession::JobHandlers handlers;
    handlers.out = [job](std::string_view bytes) {
      if (job->callbacks.output) job->callbacks.output(bytes);
    };
    handlers.err = job->callbacks.error_output;
    handlers.done = ended;
    handlers.started = [job] {
      job->started = true;
      if (job->callbacks.started) job->callbacks.started();
    };
    log_debug("{} runs job {}: {}", machine->name(), job->id, job->frame.path);
    session->run(job->frame, std::move(handlers));
    job->dispatched = true;
    job->dispatched_at = std::chrono::steady_clock::now();
    if (!job->pending_stdin.empty()) session->send_stdin(job->frame.job, job->pending_stdin);
    if (job->stdin_closed) session->send_stdin(job->frame.job, {});
    job->pending_stdin.clear();
  });
}

void MachinePool::finish(JobId id, const JobExit& exit) {
  // A job can end while start() still runs (its pool is broken, its board
  // lacks its glibc): reported then, before start() returned, the caller did
  // not know the job yet and waited for it forever (issue 25). It is told on
  // the next turn of the loop instead.
  if (in_start_) {
    asio::post(io_, [this, id, exit] { finish(id, exit); });
    return;
  }
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  auto job = it->second;
  Pool* pool = job_pool_[id];
  jobs_.erase(it);
  job_pool_.erase(id);
  if (job->callbacks.exited) job->callbacks.exited(exit);
  if (pool && pools_.count(pool->target)) dispatch(*pool);
}

Expected<JobStarted> MachinePool::start(const JobRequest& request, Callbacks callbacks) {
  std::optional<ElfInfo> probed;
  if (!request.elf) {
    auto elf = probe_elf(request.program);
    if (!elf) return elf.error();
    probed = *elf;
  }
  const ElfInfo& elf = request.elf ? *request.elf : *probed;
  const TargetTable& table = TargetTable::builtin();
  // Resolved by the routing runner already, as a rule; matched here otherwise.
  const TargetSpec* spec = request.target_spec ? request.target_spec : table.match(elf);
  if (request.target && !request.target_spec) {
    const TargetSpec* forced = table.find(*request.target);
    if (!forced) return make_error(ExitCode::Usage, "unknown target " + xrun::quoted(*request.target));
    if (!forced->matches(elf))
      return make_error(ExitCode::CannotExecute, request.program + ": built for " +
                                                     (spec ? spec->name : elf.describe()) + ", not for " +
                                                     forced->name + " (--target " + *request.target + ")");
    spec = forced;
  }
  if (!spec) return make_error(ExitCode::CannotExecute, request.program + ": no target matches this ELF file");
  auto pool = pool_for(spec->name);
  if (!pool) return pool.error();

  auto job = std::make_shared<MachineJob>();
  job->id = next_id_++;
  job->callbacks = std::move(callbacks);
  RunFrame& f = job->frame;
  f.job = static_cast<std::uint32_t>(job->id);
  f.path = real_path(request.program);
  f.argv.push_back(request.argv0.value_or(request.program));
  f.argv.insert(f.argv.end(), request.args.begin(), request.args.end());
  f.cwd = real_path(request.cwd.empty() ? current_directory() : request.cwd);
  f.forward_stdin = request.forward_stdin;
  f.merge_stderr = !job->callbacks.error_output;
  f.private_tmpdir = request.private_tmpdir;
  // Forked from a copy the agent started once only where the scheduler said
  // a fork gives a fresh process's result (one test per process), never for
  // a listing or a batch; with the arguments it chose for that copy, which
  // the library writes each test's over (zygote.c).
  f.fork_server = fork_server_ && request.fork_server && !f.forward_stdin && elf.interpreter.has_value();
  if (f.fork_server) f.server_args = request.fork_server_args;
  // The agent's own deadline is a backstop: the scheduler normally stops the
  // job first (SIGTERM, grace, SIGKILL) and the session's watchdog catches a hang.
  if (request.deadline_seconds) f.timeout_ms = static_cast<std::uint32_t>((*request.deadline_seconds + 5) * 1000);
  job->host_path = f.path;
  job->host_cwd = f.cwd;
  if (auto planned = (*pool)->fleet->plan(request, elf, *job); !planned) return planned.error();
  jobs_[job->id] = job;
  job_pool_[job->id] = *pool;
  (*pool)->queue.push_back(job);
  {
    struct Starting {  // reset however start() is left
      bool& flag;
      explicit Starting(bool& f) : flag(f) { flag = true; }
      ~Starting() { flag = false; }
    } starting(in_start_);
    dispatch(**pool);
    grow(**pool);
  }
  // It starts once a machine is up and free (a cold boot takes seconds):
  // the test's timeout and duration count from the agent's STARTED.
  return JobStarted{job->id, "", spec->name, true};
}

void MachinePool::signal(JobId id, int sig) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  auto job = it->second;
  if (job->machine && job->dispatched) {
    if (AgentSession* session = job->machine->session()) session->signal(job->frame.job, sig);
    return;
  }
  if (job->machine) {
    // Still being staged (its files going to a board): it never started,
    // so it ends as if the signal had killed it, and its room is free.
    if (Pool* pool = job_pool_[id]; pool && pool->running[job->machine.get()] > 0) --pool->running[job->machine.get()];
    job->machine = nullptr;
    asio::post(io_, [this, id, sig] { finish(id, JobExit{true, 0, sig}); });
    return;
  }
  // Still queued: it never started, so it ends as if the signal had killed it.
  if (Pool* pool = job_pool_[id]) {
    auto& queue = pool->queue;
    queue.erase(std::remove(queue.begin(), queue.end(), job), queue.end());
  }
  asio::post(io_, [this, id, sig] { finish(id, JobExit{true, 0, sig}); });
}

void MachinePool::signal_all(int sig) {
  std::vector<JobId> ids;
  for (const auto& [id, job] : jobs_) ids.push_back(id);
  for (JobId id : ids) signal(id, sig);
}

std::string MachinePool::machine_of(JobId id) const {
  auto it = jobs_.find(id);
  return it != jobs_.end() && it->second->machine ? it->second->machine->report_name() : "";
}

void MachinePool::send_stdin(JobId id, std::string_view bytes) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  auto& job = *it->second;
  AgentSession* session = job.machine ? job.machine->session() : nullptr;
  if (session && job.dispatched) {
    session->send_stdin(job.frame.job, bytes);
  } else if (bytes.empty()) {
    job.stdin_closed = true;
  } else {
    job.pending_stdin.append(bytes);
  }
}

}  // namespace xrun
