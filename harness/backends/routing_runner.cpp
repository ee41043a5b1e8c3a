#include "backends/routing_runner.h"

#include "backends/registry.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "target/target_table.h"

namespace xrun {

Expected<Route> route_program(const std::string& program, const std::optional<std::string>& target,
                              const Backend* requested, const Config& config, const RoutingOptions& options) {
  const Backend& host = host_backend();
  Route route;
  route.backend = &host;
  auto path = find_program(program);
  if (!path) return route;
  ProgramProbes own;
  route.binary = (options.probes ? *options.probes : own).get(*path);
  // Unreadable, a script, of no known format, or not runnable as what it is:
  // the host's launcher runs it or says what is wrong.
  if (!route.binary || route.binary->problem) return route;
  const BinaryInfo& binary = *route.binary;
  if (binary.format == BinaryFormat::Script || binary.format == BinaryFormat::Unknown) return route;
  if (!route.elf()) {
    // A format of its own rows (PE/COFF: Wine; WebAssembly: WASI), when there are any.
    const Backend* chosen = options.backend ? options.backend : requested;
    const Backend* row = chosen && runs_format(*chosen, binary.format) ? chosen : default_backend(binary.format);
    if (!row)
      return make_error(ExitCode::CannotExecute, program + " is " + binary.describe() + "; no backend runs " +
                                                     std::string(programs_of(binary.format)) + " yet");
    route.backend = row;
    return route;
  }
  const ElfInfo& elf = *route.elf();
  const TargetTable& table = TargetTable::builtin();
  const TargetSpec* spec = target ? table.find(*target) : table.match(elf);
  if (!spec || (target && !spec->matches(elf))) return route;  // the launcher says why not
  route.spec = spec;
  if (host.runs(*spec, &elf)) return route;
  const Backend* chosen = options.backend ? options.backend : requested ? requested : config.target(spec->name).backend;
  route.backend = chosen ? chosen : default_backend(BinaryFormat::Elf);
  return route;
}

RoutingRunner::RoutingRunner(boost::asio::io_context& io, const Config& config, RoutingOptions options)
    : io_(io), config_(config), options_(std::move(options)), runners_(backends().size()) {
  if (!options_.probes) options_.probes = &own_probes_;
}

RoutingRunner::~RoutingRunner() { shutdown(); }

void RoutingRunner::shutdown() {
  for (auto& runner : runners_)
    if (runner) runner->shutdown();
}

const Expected<Route>& RoutingRunner::route_of(const JobRequest& request) {
  std::string key = request.program + '\0' + request.target.value_or("") + '\0' +
                    (request.backend ? std::string(request.backend->name) : "");
  auto it = routes_.find(key);
  if (it == routes_.end()) {
    it = routes_.emplace(key, route_program(request.program, request.target, request.backend, config_, options_)).first;
    if (const auto& r = it->second)
      log_debug("{} runs on {}{}", request.program, r->backend->name, r->spec ? " (" + r->spec->name + ")" : "");
  }
  return it->second;
}

Expected<void> RoutingRunner::admits(const JobRequest& request) {
  const auto& route = route_of(request);
  if (!route) return route.error();
  return {};
}

JobRunner& RoutingRunner::runner_for(const Backend& backend) {
  const auto rows = backends();
  const auto index = static_cast<std::size_t>(std::find(rows.begin(), rows.end(), &backend) - rows.begin());
  auto& runner = runners_.at(index);
  if (!runner) runner = backend.make_runner(io_, config_, options_.runners);
  return *runner;
}

Expected<JobStarted> RoutingRunner::start(const JobRequest& request, Callbacks callbacks) {
  const auto& found = route_of(request);
  if (!found) return found.error();
  const Route& route = *found;
  JobRunner& runner = runner_for(*route.backend);
  JobRequest routed = request;
  routed.binary = route.binary.get();
  routed.elf = route.elf();
  routed.target_spec = route.spec;
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
