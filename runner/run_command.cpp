// xrun [OPTIONS] [--] PROGRAM [ARGS...]: the runner contract.
//
// Options are parsed by hand, not by CLI11: only the few options before
// PROGRAM belong to xrun, and everything from PROGRAM on must reach the
// program byte for byte, including things that look like options.
#include <cstring>
#include <optional>

#include "config/config.h"
#include "core/diagnostics.h"
#include "core/log.h"
#include "core/suggest.h"
#include "launch/launcher.h"
#include "target/target_table.h"
#include "xrun_main.h"

namespace xrun {

namespace {

struct RunOptions {
  bool verbose = false;
  std::optional<std::string> target;
  std::optional<std::string> config_file;
  RunRequest request;
};

// Splits "--name=value" / "--name value". Returns false on a usage error.
bool take_value(const std::vector<std::string>& args, std::size_t& i, const std::string& name,
                std::optional<std::string>& out) {
  const std::string& arg = args[i];
  if (arg.size() > name.size() && arg.compare(0, name.size() + 1, name + "=") == 0) {
    out = arg.substr(name.size() + 1);
    return true;
  }
  if (i + 1 >= args.size()) {
    print_error("option " + name + " needs a value");
    return false;
  }
  out = args[++i];
  return true;
}

std::optional<RunOptions> parse_run_options(const std::vector<std::string>& args) {
  RunOptions options;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.empty() || arg[0] != '-' || arg == "-") break;
    if (arg == "-v" || arg == "--verbose") {
      options.verbose = true;
    } else if (arg == "--target" || arg.rfind("--target=", 0) == 0) {
      if (!take_value(args, i, "--target", options.target)) return std::nullopt;
    } else if (arg == "--config" || arg.rfind("--config=", 0) == 0) {
      if (!take_value(args, i, "--config", options.config_file)) return std::nullopt;
    } else {
      const std::string name = arg.substr(0, arg.find('='));
      print_error("unknown option " + quoted(name) +
                  did_you_mean(name, {"--target", "--config", "--verbose", "--help", "--version"}) +
                  " (options go before PROGRAM; see xrun --help)");
      return std::nullopt;
    }
  }
  if (i >= args.size()) {
    print_error("no program to run (usage: xrun [OPTIONS] [--] PROGRAM [ARGS...])");
    return std::nullopt;
  }
  options.request.program = args[i];
  options.request.args.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  options.request.target = options.target;
  return options;
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  auto options = parse_run_options(args);
  if (!options) return to_int(ExitCode::Usage);
  return run_program(options->request, options->verbose, options->config_file);
}

int run_program(const RunRequest& request, bool verbose, const std::optional<std::string>& config_file) {
  init_logging(verbose);
  auto config = load_config(config_inputs_from_process(config_file));
  if (!config) {
    print_error(config.error().message);
    return to_int(config.error().code);
  }
  auto plan = plan_launch(request, *config, TargetTable::builtin(), OverlayStore::from_environment(),
                          current_environment());
  if (!plan) {
    print_error(plan.error().message);
    return to_int(plan.error().code);
  }
  spdlog::debug("target {}, {}", plan->target.empty() ? "script" : plan->target,
                plan->emulated ? "qemu-user" : "native");
  if (!plan->sysroot.sysroot.empty() && plan->emulated)
    spdlog::debug("libraries from {}", plan->sysroot.sysroot);
  spdlog::debug("exec: {}", plan->command_line());
  spdlog::default_logger()->flush();
  const Error failure = exec_plan(*plan);
  print_error(failure.message);
  return to_int(failure.code);
}

}  // namespace xrun
