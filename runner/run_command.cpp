// xrun [OPTIONS] [--] PROGRAM [ARGS...]: the runner contract.
//
// Where the program runs is the routing runner's decision
// (backends/routing_runner.h). A backend that can exec in xrun's place
// (native, qemu-user) does: the program then is the process the build tool
// started, and xrun costs nothing while it runs. Any other backend (a VM)
// runs it through run_interactive(): stdio, signals and the exit status
// pass through, and xrun ends as the program did.
#include <boost/asio/io_context.hpp>

#include "backends/interactive_run.h"
#include "backends/routing_runner.h"
#include "binfmt/foreign_exec.h"
#include "config/config.h"
#include "core/diagnostics.h"
#include "core/log.h"
#include "launch/launcher.h"
#include "launch/run_options.h"
#include "target/target_table.h"
#include "xrun_main.h"

namespace xrun {

int run_command(const std::vector<std::string>& args) {
  auto line = parse_run_line(args);
  if (!line) {
    print_error(line.error().message);
    return to_int(line.error().code);
  }
  if (line->program >= args.size()) {
    print_error("no program to run (usage: xrun [OPTIONS] [--] PROGRAM [ARGS...])");
    return to_int(ExitCode::Usage);
  }
  RunRequest request;
  request.program = args[line->program];
  request.args.assign(args.begin() + static_cast<std::ptrdiff_t>(line->program) + 1, args.end());
  request.target = line->options.target;
  return run_program(request, line->options);
}

int run_program(const RunRequest& request, const RunOptions& options) {
  init_logging(options.verbose);
  auto config = load_config(config_inputs_from_process(options.config_file));
  if (!config) {
    print_error(config.error().message);
    return to_int(config.error().code);
  }
  RoutingOptions routing;
  routing.backend = options.backend;
  routing.runners.jobs = 1;
  routing.runners.fork_server = false;  // one program, one process: nothing to share
  routing.runners.flags = options.backend_flags;
  // The program's file is read once, here: the launcher and the routing
  // runner below take what this probe found.
  ProgramProbes probes;
  routing.probes = &probes;

  const auto routed = route_program(request.program, request.target, nullptr, *config, routing);
  if (!routed) {
    print_error(routed.error().message);
    return to_int(routed.error().code);
  }
  const Route& route = *routed;
  if (route.execs_in_place()) {
    RunRequest probed = request;
    probed.binary = route.binary.get();
    probed.spec = route.spec;
    auto plan =
        plan_launch(probed, *config, TargetTable::builtin(), OverlayStore::from_environment(), current_environment());
    if (!plan) {
      print_error(plan.error().message);
      return to_int(plan.error().code);
    }
    log_debug("target {}, {}", plan->target.empty() ? "script" : plan->target, route.backend->name);
    if (!plan->sysroot.sysroot.empty() && plan->emulated) log_debug("libraries from {}", plan->sysroot.sysroot);
    // The program may start foreign programs itself (foreign_exec.h).
    if (plan->emulated && !ForeignExec::for_this_process().enter())
      log_debug("could not enter xrun's binfmt_misc namespace: running without it");
    log_debug("exec: {}", plan->command_line());
    log_flush();
    const Error failure = exec_plan(*plan);
    print_error(failure.message);
    return to_int(failure.code);
  }

  boost::asio::io_context io;
  RoutingRunner runner(io, *config, routing);
  JobRequest job;
  job.program = request.program;
  job.args = request.args;
  job.argv0 = request.argv0;
  job.target = request.target;
  auto exit = run_interactive(io, runner, job);
  runner.shutdown();  // no VM outlives the run, whatever happens next
  if (!exit) {
    print_error(exit.error().message);
    return to_int(exit.error().code);
  }
  if (exit->infra_error) {
    print_error(*exit->infra_error);
    return exit->code == 127 ? to_int(ExitCode::NotFound) : to_int(ExitCode::CannotExecute);
  }
  finish_like(*exit);
}

}  // namespace xrun
