#include "backends/routing_runner.h"

#include "backends/system/image.h"
#include "backends/system/vm_arch.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "engine/process_runner.h"
#include "launch/launcher.h"
#include "target/target_table.h"

namespace xrun {

Route route_program(const std::string& program, const std::optional<std::string>& target,
                    const std::optional<Backend>& requested, const Config& config, const RoutingOptions& options) {
  Route route;
  route.native = true;
  auto path = find_program(program);
  if (!path) return route;
  auto elf = probe_elf(*path);
  if (!elf) return route;  // a script, or not a program: the host's launcher deals with it
  route.elf = *elf;
  const TargetTable& table = TargetTable::builtin();
  const TargetSpec* spec = target ? table.find(*target) : table.match(*elf);
  if (!spec || (target && !spec->matches(*elf))) return route;  // the launcher says why not
  route.target = spec->name;
  if (runs_natively(*spec, *elf)) return route;
  route.native = false;
  route.backend =
      options.backend.value_or(requested.value_or(config.target(spec->name).backend.value_or(Backend::QemuUser)));
  return route;
}

RoutingRunner::RoutingRunner(boost::asio::io_context& io, const Config& config, RoutingOptions options)
    : io_(io), config_(config), options_(options) {}

RoutingRunner::~RoutingRunner() { shutdown(); }

void RoutingRunner::shutdown() {
  if (system_) system_->shutdown();
  if (board_) board_->shutdown();
  if (process_) process_->kill_all();
}

const Route& RoutingRunner::route_of(const JobRequest& request) {
  std::string key = request.program + '\0' + request.target.value_or("") + '\0' +
                    (request.backend ? std::string(backend_name(*request.backend)) : "");
  auto it = routes_.find(key);
  if (it == routes_.end()) {
    it = routes_.emplace(key, route_program(request.program, request.target, request.backend, config_, options_)).first;
    const Route& r = it->second;
    log_debug(
        "{} runs {}", request.program,
        r.native ? std::string("natively") : "on " + std::string(backend_name(r.backend)) + " (" + r.target + ")");
  }
  return it->second;
}

JobRunner& RoutingRunner::runner_for(const Route& route) {
  if (!route.native && route.backend == Backend::Board) {
    if (!board_) board_ = make_board_runner(io_, config_, options_.board_fork_server);
    return *board_;
  }
  if (!route.native && route.backend == Backend::System) {
    if (!system_) system_ = make_system_runner(io_, config_, options_.system);
    return *system_;
  }
  if (!process_) {
    ProcessRunnerOptions process;
    if (options_.qemu_fork_server) {
      // The library system mode's agent preloads in the VM, built for each
      // target xrun has VMs for and found next to xrun (system/image.h).
      process.fork_server_library =
          [found = std::map<std::string, std::optional<std::string>>()](const std::string& target) mutable {
            auto [it, inserted] = found.emplace(target, std::nullopt);
            if (inserted)
              if (const VmArch* arch = find_vm_arch(target))
                if (auto library = find_guest_part(*arch, "xrun-zygote")) it->second = *library;
            return it->second;
          };
    }
    process_ = std::make_unique<ProcessRunner>(io_, config_, OverlayStore::from_environment(), std::move(process));
  }
  return *process_;
}

Expected<JobStarted> RoutingRunner::start(const JobRequest& request, Callbacks callbacks) {
  const Route& route = route_of(request);
  JobRunner& runner = runner_for(route);
  JobRequest routed = request;
  if (route.elf) routed.elf = &*route.elf;
  const JobId id = next_id_++;
  auto exited = std::move(callbacks.exited);
  callbacks.exited = [this, id, exited = std::move(exited)](const JobExit& exit) {
    jobs_.erase(id);
    if (exited) exited(exit);
  };
  // In the map before the start: a runner may end the job inside start().
  jobs_[id] = Inner{&runner, 0};
  auto started = runner.start(routed, std::move(callbacks));
  if (!started) {
    jobs_.erase(id);
    return started.error();
  }
  if (auto it = jobs_.find(id); it != jobs_.end()) it->second.id = started->id;
  JobStarted outer = *started;
  outer.id = id;
  return outer;
}

void RoutingRunner::signal(JobId id, int sig) {
  if (auto it = jobs_.find(id); it != jobs_.end()) it->second.runner->signal(it->second.id, sig);
}

void RoutingRunner::signal_all(int sig) {
  // Every backend's runner: while listing, this is all Ctrl-C does.
  if (system_) system_->signal_all(sig);
  if (board_) board_->signal_all(sig);
  if (process_) process_->signal_all(sig);
}

void RoutingRunner::send_stdin(JobId id, std::string_view bytes) {
  if (auto it = jobs_.find(id); it != jobs_.end()) it->second.runner->send_stdin(it->second.id, bytes);
}

std::string RoutingRunner::machine_of(JobId id) const {
  auto it = jobs_.find(id);
  return it != jobs_.end() ? it->second.runner->machine_of(it->second.id) : "";
}

}  // namespace xrun
