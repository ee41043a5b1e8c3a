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
#include "core/fs_util.h"
#include "elf/elf_probe.h"
#include "launch/launcher.h"
#include "target/target_table.h"
#include "xrun_main.h"

namespace xrun {

namespace {

struct RunOptions {
  bool verbose = false;
  std::optional<std::string> target;
  std::optional<std::string> config_file;
  std::optional<std::string> backend;
  bool cold_boot = false;
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
    } else if (arg == "--backend" || arg.rfind("--backend=", 0) == 0) {
      if (!take_value(args, i, "--backend", options.backend)) return std::nullopt;
      if (*options.backend != "qemu-user" && *options.backend != "system") {
        print_error("--backend must be qemu-user or system, not " + quoted(*options.backend));
        return std::nullopt;
      }
    } else if (arg == "--cold-boot") {
      options.cold_boot = true;
    } else {
      const std::string name = arg.substr(0, arg.find('='));
      print_error("unknown option " + quoted(name) +
                  did_you_mean(name, {"--target", "--config", "--backend", "--cold-boot", "--verbose", "--help", "--version"}) +
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
  return run_program(options->request, options->verbose, options->config_file, options->backend,
                     options->cold_boot);
}

int run_program(const RunRequest& request, bool verbose, const std::optional<std::string>& config_file,
                std::optional<std::string> backend, bool cold_boot) {
  init_logging(verbose);
  auto config = load_config(config_inputs_from_process(config_file));
  if (!config) {
    print_error(config.error().message);
    return to_int(config.error().code);
  }
  // System mode, asked for here or in the target's config. Probing the ELF
  // file for that is only done when some target is configured for it: the
  // qemu-user path stays as fast as it was (bench/launch_overhead.cpp).
  if (!backend) {
    bool any_system = false;
    for (const auto& [name, settings] : config->targets) any_system |= settings.backend == "system";
    if (any_system) {
      std::string target;
      if (request.target) {
        if (const TargetSpec* spec = TargetTable::builtin().find(*request.target)) target = spec->name;
      } else if (auto program = find_program(request.program)) {
        if (auto elf = probe_elf(*program))
          if (const TargetSpec* spec = TargetTable::builtin().match(*elf)) target = spec->name;
      }
      if (!target.empty()) backend = config->target(target).backend;
    }
  }
  if (backend == "system") return run_in_vm(request, *config, cold_boot);
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
