#include "system/system_runner.h"

#include <signal.h>
#include <stdlib.h>

#include <boost/asio/post.hpp>
#include <climits>
#include <cstring>
#include <filesystem>

#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "elf/elf_probe.h"
#include "launch/launcher.h"
#include "target/target_table.h"

namespace xrun {

namespace asio = boost::asio;

struct SystemRunner::Job {
  JobId id = 0;
  Pool* pool = nullptr;
  RunFrame frame;
  Callbacks callbacks;
  std::shared_ptr<Vm> vm;
  std::string pending_stdin;
  bool stdin_closed = false;
};

struct SystemRunner::Pool {
  VmSettings settings;
  std::vector<std::shared_ptr<Vm>> vms;
  std::deque<std::shared_ptr<Job>> queue;
  bool from_snapshot = false;
  int failed_boots = 0;
  std::optional<std::string> broken;  // VMs cannot start at all: every job fails with this
};

namespace {

std::string real_path(const std::string& path) {
  char buffer[PATH_MAX];
  return ::realpath(path.c_str(), buffer) ? std::string(buffer) : path;
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}


}  // namespace

SystemRunner::SystemRunner(asio::io_context& io, const Config& config, SystemRunnerOptions options)
    : io_(io), config_(config), options_(options), base_env_(current_environment()) {}

SystemRunner::~SystemRunner() { shutdown(); }

void SystemRunner::shutdown() {
  // A VM killed here before it was ready reports a failed start: that must
  // not start another VM, nor (one from saved state) discard the saved state.
  shutting_down_ = true;
  jobs_.clear();
  for (auto& [target, pool] : pools_) {
    for (auto& vm : pool->vms) {
      if (!vm) continue;
      vm->on_death = nullptr;
      vm->kill("xrun is done with it");
    }
    pool->vms.clear();
    pool->queue.clear();
    std::error_code ec;
    std::filesystem::remove_all(pool->settings.work_dir, ec);  // failed VMs' logs were kept in the cache
  }
  pools_.clear();
}

Expected<SystemRunner::Pool*> SystemRunner::pool_for(const std::string& target) {
  if (auto it = pools_.find(target); it != pools_.end()) return it->second.get();
  auto settings = vm_settings_for(target, config_);
  if (!settings) return settings.error();
  auto pool = std::make_unique<Pool>();
  pool->settings = *settings;
  if (!options_.cold_boot) {
    auto saved = ensure_snapshot(pool->settings);
    if (saved) {
      pool->from_snapshot = true;
      pool->settings.image.snapshot_dir = *saved;  // the state for exactly these settings
    }
    else print_warning(saved.error().message + "\n  (cold-booting the VMs instead)");
  }
  Pool* raw = pool.get();
  pools_[target] = std::move(pool);
  raw->vms.resize(static_cast<std::size_t>(std::max(1, options_.vms)));  // started by grow()
  return raw;
}

// VMs start as jobs wait for them, up to one per job slot: a run of one test
// boots one VM, not -j of them competing for the host's cores.
void SystemRunner::grow(Pool& pool) {
  std::size_t spare = 0;  // booting, or ready and idle
  for (const auto& vm : pool.vms)
    if (vm && vm->alive() && (!vm->ready() || vm->jobs() == 0)) ++spare;
  for (std::size_t i = 0; i < pool.vms.size() && spare < pool.queue.size() && !pool.broken; ++i) {
    if (pool.vms[i]) continue;
    launch_vm(pool, static_cast<int>(i));
    ++spare;
  }
}

void SystemRunner::launch_vm(Pool& pool, int index) {
  pool.vms[static_cast<std::size_t>(index)] = Vm::launch(
      io_, pool.settings, index, pool.from_snapshot,
      [this, &pool, index](const std::shared_ptr<Vm>& vm, std::optional<std::string> error) {
        if (shutting_down_) return;
        if (!error) {
          pool.failed_boots = 0;
          vm->on_death = [this, &pool, index] {
            // Replace it once the current call chain is over.
            asio::post(io_, [this, &pool, index] {
              if (!pool.broken) launch_vm(pool, index);
            });
          };
          dispatch(pool);
          return;
        }
        if (vm->from_snapshot()) {
          // The saved state does not work here (after a qemu upgrade, say):
          // every VM from now on cold-boots.
          print_warning("starting a VM from saved state failed, cold-booting instead: " + *error);
          pool.from_snapshot = false;
          std::error_code ec;
          std::filesystem::remove_all(pool.settings.image.snapshot_dir, ec);
          launch_vm(pool, index);
          return;
        }
        if (++pool.failed_boots < 3) {
          log_debug("VM {} failed to boot, retrying: {}", index, *error);
          launch_vm(pool, index);
          return;
        }
        pool.broken = *error;
        dispatch(pool);
      });
}

void SystemRunner::dispatch(Pool& pool) {
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
  for (auto& vm : pool.vms) {
    if (pool.queue.empty()) return;
    if (!vm || !vm->alive() || !vm->ready() || vm->jobs() > 0) continue;
    auto job = pool.queue.front();
    pool.queue.pop_front();
    job->vm = vm;
    Vm::JobHandlers handlers;
    handlers.out = [job](std::string_view bytes) {
      if (job->callbacks.output) job->callbacks.output(bytes);
    };
    handlers.err = job->callbacks.error_output;
    const JobId id = job->id;
    handlers.done = [this, id](const JobExit& exit) { finish(id, exit); };
    handlers.started = [job] {
      if (job->callbacks.started) job->callbacks.started();
    };
    log_debug("VM {} runs job {}: {}", vm->index(), job->id, job->frame.path);
    vm->run(job->frame, std::move(handlers));
    if (!job->pending_stdin.empty()) vm->send_stdin(job->frame.job, job->pending_stdin);
    if (job->stdin_closed) vm->send_stdin(job->frame.job, {});
    job->pending_stdin.clear();
  }
}

void SystemRunner::finish(JobId id, const JobExit& exit) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  auto job = it->second;
  jobs_.erase(it);
  if (job->callbacks.exited) job->callbacks.exited(exit);
  dispatch(*job->pool);
}

Expected<JobStarted> SystemRunner::start(const JobRequest& request, Callbacks callbacks) {
  std::optional<ElfInfo> probed;
  if (!request.elf) {
    auto elf = probe_elf(request.program);
    if (!elf) return elf.error();
    probed = *elf;
  }
  const ElfInfo& elf = request.elf ? *request.elf : *probed;
  const TargetTable& table = TargetTable::builtin();
  const TargetSpec* spec = table.match(elf);
  if (request.target) {
    const TargetSpec* forced = table.find(*request.target);
    if (!forced) return make_error(ExitCode::Usage, "unknown target " + xrun::quoted(*request.target));
    if (!forced->matches(elf))
      return make_error(ExitCode::CannotExecute, request.program + ": built for " + (spec ? spec->name : elf.describe()) +
                                                     ", not for " + forced->name + " (--target " + *request.target + ")");
    spec = forced;
  }
  if (!spec) return make_error(ExitCode::CannotExecute, request.program + ": no target matches this ELF file");
  auto pool = pool_for(spec->name);
  if (!pool) return pool.error();

  auto job = std::make_shared<Job>();
  job->id = next_id_++;
  job->pool = *pool;
  job->callbacks = std::move(callbacks);
  RunFrame& f = job->frame;
  f.job = static_cast<std::uint32_t>(job->id);
  f.path = real_path(request.program);
  f.argv.push_back(request.argv0.value_or(request.program));
  f.argv.insert(f.argv.end(), request.args.begin(), request.args.end());
  f.env = base_env_;
  std::vector<std::string> target_env;
  for (const auto& [name, value] : config_.target(spec->name).env) target_env.push_back(name + "=" + value);
  set_environment(f.env, target_env);
  set_environment(f.env, request.extra_env);
  f.cwd = real_path(request.cwd.empty() ? current_directory() : request.cwd);
  f.forward_stdin = request.forward_stdin;
  f.merge_stderr = !job->callbacks.error_output;
  f.private_tmpdir = request.private_tmpdir;
  f.fork_server = options_.fork_server && !f.forward_stdin && elf.interpreter.has_value();
  // The agent's own deadline is a backstop: the scheduler normally stops the
  // job first (SIGTERM, grace, SIGKILL) and the VM watchdog catches a hang.
  if (request.deadline_seconds) f.timeout_ms = static_cast<std::uint32_t>((*request.deadline_seconds + 5) * 1000);
  // What the job sees of the host (host_view.h): its cwd, a TMPDIR from the
  // host (programs that make temporary files there would fail only in the
  // VM otherwise) and the configured shares writable; the program's
  // directory and the directories xrun adds for the job read-only.
  std::vector<std::pair<std::string, bool>> shown{{f.cwd, true}, {parent_of(f.path), false}};
  for (const auto& entry : f.env)
    if (!f.private_tmpdir && entry.rfind("TMPDIR=", 0) == 0 && is_directory(entry.substr(7)))
      shown.emplace_back(real_path(entry.substr(7)), true);
  for (const auto& share : (*pool)->settings.shares) shown.emplace_back(real_path(share), true);
  for (const auto& dir : request.host_dirs)
    if (is_directory(dir)) shown.emplace_back(real_path(dir), false);
  // Libraries of the build tree: the program's RUNPATH ($ORIGIN is its
  // directory) and an LD_LIBRARY_PATH set for the job.
  std::vector<std::string> library_dirs;
  for (const auto& entry : elf.library_paths) {
    std::string dir = entry;
    for (const char* origin : {"${ORIGIN}", "$ORIGIN"})
      if (dir.rfind(origin, 0) == 0) dir = parent_of(f.path) + dir.substr(std::strlen(origin));
    library_dirs.push_back(dir);
  }
  for (const auto& entry : f.env)
    if (entry.rfind("LD_LIBRARY_PATH=", 0) == 0)
      for (auto& dir : split_path_list(std::string_view(entry).substr(16))) library_dirs.push_back(std::move(dir));
  for (const auto& dir : library_dirs)
    if (!dir.empty() && dir[0] == '/' && is_directory(dir)) shown.emplace_back(real_path(dir), false);
  for (const auto& [dir, writable] : shown) {
    if (auto exposed = (*pool)->settings.host_view->expose(dir, writable); !exposed) return exposed.error();
    f.binds.push_back(dir);
  }
  jobs_[job->id] = job;
  (*pool)->queue.push_back(job);
  dispatch(**pool);
  grow(**pool);
  // It starts once a VM is up and free (a cold boot takes seconds): the
  // test's timeout and duration count from the agent's STARTED.
  return JobStarted{job->id, std::string(backend_name(Backend::System)), true};
}

void SystemRunner::signal(JobId id, int sig) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  auto job = it->second;
  if (job->vm) {
    job->vm->signal(job->frame.job, sig);
    return;
  }
  // Still queued: it never started, so it ends as if the signal had killed it.
  auto& queue = job->pool->queue;
  queue.erase(std::remove(queue.begin(), queue.end(), job), queue.end());
  asio::post(io_, [this, id, sig] { finish(id, JobExit{true, 0, sig}); });
}

void SystemRunner::signal_all(int sig) {
  std::vector<JobId> ids;
  for (const auto& [id, job] : jobs_) ids.push_back(id);
  for (JobId id : ids) signal(id, sig);
}

void SystemRunner::send_stdin(JobId id, std::string_view bytes) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  auto& job = *it->second;
  if (job.vm) {
    job.vm->send_stdin(job.frame.job, bytes);
  } else if (bytes.empty()) {
    job.stdin_closed = true;
  } else {
    job.pending_stdin.append(bytes);
  }
}

}  // namespace xrun
