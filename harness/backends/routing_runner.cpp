#include "backends/routing_runner.h"

#include "backends/registry.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "target/target_table.h"

namespace xrun {

Route route_program(const std::string& program, const std::optional<std::string>& target, const Backend* requested,
                    const Config& config, const RoutingOptions& options) {
  const Backend& host = host_backend();
  Route route;
  route.backend = &host;
  auto path = find_program(program);
  if (!path) return route;
  auto elf = probe_elf(*path);
  if (!elf) return route;  // a script, or not a program: the host's launcher deals with it
  route.elf = *elf;
  const TargetTable& table = TargetTable::builtin();
  const TargetSpec* spec = target ? table.find(*target) : table.match(*elf);
  if (!spec || (target && !spec->matches(*elf))) return route;  // the launcher says why not
  route.target = spec->name;
  if (host.runs(*spec, &*elf)) return route;
  const Backend* chosen = options.backend ? options.backend : requested ? requested : config.target(spec->name).backend;
  route.backend = chosen ? chosen : default_backend(BinaryFormat::Elf);
  return route;
}

RoutingRunner::RoutingRunner(boost::asio::io_context& io, const Config& config, RoutingOptions options)
    : io_(io), config_(config), options_(std::move(options)), runners_(backends().size()) {}

RoutingRunner::~RoutingRunner() { shutdown(); }

void RoutingRunner::shutdown() {
  for (auto& runner : runners_)
    if (runner) runner->shutdown();
}

const Route& RoutingRunner::route_of(const JobRequest& request) {
  std::string key = request.program + '\0' + request.target.value_or("") + '\0' +
                    (request.backend ? std::string(request.backend->name) : "");
  auto it = routes_.find(key);
  if (it == routes_.end()) {
    it = routes_.emplace(key, route_program(request.program, request.target, request.backend, config_, options_)).first;
    const Route& r = it->second;
    log_debug("{} runs on {}{}", request.program, r.backend->name, r.target.empty() ? "" : " (" + r.target + ")");
  }
  return it->second;
}

JobRunner& RoutingRunner::runner_for(const Backend& backend) {
  const auto rows = backends();
  const auto index = static_cast<std::size_t>(std::find(rows.begin(), rows.end(), &backend) - rows.begin());
  auto& runner = runners_.at(index);
  if (!runner) runner = backend.make_runner(io_, config_, options_.runners);
  return *runner;
}

Expected<JobStarted> RoutingRunner::start(const JobRequest& request, Callbacks callbacks) {
  const Route& route = route_of(request);
  JobRunner& runner = runner_for(*route.backend);
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
  outer.backend = route.backend->name;
  return outer;
}

void RoutingRunner::signal(JobId id, int sig) {
  if (auto it = jobs_.find(id); it != jobs_.end()) it->second.runner->signal(it->second.id, sig);
}

void RoutingRunner::signal_all(int sig) {
  for (auto& runner : runners_)
    if (runner) runner->signal_all(sig);
}

void RoutingRunner::send_stdin(JobId id, std::string_view bytes) {
  if (auto it = jobs_.find(id); it != jobs_.end()) it->second.runner->send_stdin(it->second.id, bytes);
}

std::string RoutingRunner::machine_of(JobId id) const {
  auto it = jobs_.find(id);
  return it != jobs_.end() ? it->second.runner->machine_of(it->second.id) : "";
}

}  // namespace xrun
