// xrun doctor: what each target runs with, what is missing, and the package
// that provides it. Exits InfraError when a target the configuration names
// (or --target asks about) cannot run dynamic programs.
#include <cstdio>

#include "config/config.h"
#include "core/cli_parse.h"
#include "core/diagnostics.h"
#include "core/log.h"
#include "core/suggest.h"
#include "doctor/doctor.h"
#include "xrun_main.h"

namespace xrun {

int doctor_command(const std::vector<std::string>& args) {
  CLI::App app("what each target runs with, and what is missing", "xrun doctor");
  std::string target;
  std::string config_file;
  bool verbose = false;
  app.add_option("--target", target, "check only this target (name or triple); exit non-zero if unusable");
  app.add_option("--config", config_file, "configuration file instead of the nearest xrun.toml");
  app.add_flag("-v,--verbose", verbose, "debug trace");
  if (auto stop = parse_subcommand(app, "doctor", args)) return *stop;
  init_logging(verbose);
  auto config = load_config(
      config_inputs_from_process(config_file.empty() ? std::nullopt : std::optional<std::string>(config_file)));
  if (!config) {
    print_error(config.error().message);
    return to_int(config.error().code);
  }
  const TargetTable& table = TargetTable::builtin();
  auto rows = diagnose_targets(*config, table, OverlayStore::from_environment());
  if (!target.empty()) {
    const TargetSpec* spec = table.find(target);
    if (spec == nullptr) {
      print_error("unknown target " + xrun::quoted(target) + did_you_mean(target, table.names()));
      return to_int(ExitCode::Usage);
    }
    std::erase_if(rows, [&](const TargetDiagnosis& row) { return row.target != spec->name; });
    rows.front().configured = true;
  }
  std::fputs(doctor_report(rows, *config, target.empty() ? "" : rows.front().target).c_str(), stdout);
  int status = 0;
  for (const auto& row : rows) {
    if (row.configured && !(row.runs_static && row.runs_dynamic)) {
      print_error("target " + row.target + " is configured but cannot run dynamic programs");
      status = to_int(ExitCode::InfraError);
    }
  }
  return status;
}

}  // namespace xrun
