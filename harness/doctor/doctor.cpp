#include "doctor/doctor.h"

#include <algorithm>
#include <array>
#include <regex>

#include "backends/registry.h"
#include "core/fs_util.h"
#include "core/process_util.h"
#include "launch/launcher.h"

namespace xrun {

namespace {

std::string qemu_version(const std::string& qemu) {
  auto output = capture_stdout({qemu, "--version"});
  if (!output) return "?";
  static const std::regex version(R"(version ([0-9][^ \n]*))");
  std::smatch match;
  return std::regex_search(*output, match, version) ? match[1].str() : "?";
}

std::string layout_name(SysrootLayout layout) {
  switch (layout) {
    case SysrootLayout::Cross:
      return "cross sysroot";
    case SysrootLayout::Rootfs:
      return "root filesystem";
    case SysrootLayout::Host:
      return "host multiarch";
  }
  return "";
}

}  // namespace

std::vector<TargetDiagnosis> diagnose_targets(const Config& config, const TargetTable& table,
                                              const OverlayStore& overlays) {
  static const std::string host = host_machine();
  std::vector<TargetDiagnosis> rows;
  for (const auto& spec : table.targets()) {
    TargetDiagnosis row;
    row.target = spec.name;
    row.configured = config.targets.count(spec.name) > 0;
    const TargetSettings& settings = config.target(spec.name);
    const bool host_machine_matches = host_runs_target(spec);
    if (host_machine_matches) {
      row.native = true;
      row.runs_static = true;
      row.runs_dynamic = path_exists(spec.loader);
      if (row.runs_dynamic) {
        row.sysroot = "host (" + spec.loader + ")";
        rows.push_back(std::move(row));
        continue;
      }
    }
    const std::string qemu_name = settings.qemu.value_or(spec.qemu);
    auto qemu = find_program(qemu_name);
    if (qemu && is_regular_file(*qemu)) {
      row.qemu_path = *qemu;
      row.qemu_version = qemu_version(*qemu);
      row.runs_static = true;
    } else if (!row.native) {
      row.problems.push_back(qemu_name + " not found: apt-get install " + spec.packages.qemu);
    }
    ElfInfo typical;
    typical.interpreter = spec.loader;
    auto sysroot = choose_sysroot(spec, settings, typical, overlays);
    if (sysroot) {
      row.sysroot = sysroot->sysroot + " (" + layout_name(sysroot->layout) + ")";
      row.runs_dynamic = !row.qemu_path.empty();
    } else {
      row.problems.push_back("dynamic programs: " + sysroot.error().message);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string format_diagnosis(const std::vector<TargetDiagnosis>& rows, const Config& config) {
  std::string out = "host: " + host_machine() + "\n";
  out += "config files: ";
  if (config.files.empty()) out += "none";
  for (std::size_t i = 0; i < config.files.size(); ++i) out += (i ? ", " : "") + config.files[i];
  out += "\n\n";

  std::vector<std::array<std::string, 4>> cells;
  cells.push_back({"TARGET", "RUNS WITH", "SYSROOT (dynamic programs)", "STATUS"});
  for (const auto& row : rows) {
    std::string runner;
    if (row.native && row.runs_dynamic)
      runner = std::string(host_backend().name);
    else if (!row.qemu_path.empty())
      runner = row.qemu_path + " " + row.qemu_version;
    else if (row.native)
      runner = "native (static only)";
    else
      runner = "-";
    std::string status;
    if (row.runs_static && row.runs_dynamic)
      status = "ok";
    else if (row.runs_static)
      status = "static only";
    else
      status = "unusable";
    if (row.configured) status += " (configured)";
    cells.push_back({row.target, runner, row.sysroot.empty() ? "-" : row.sysroot, status});
  }
  std::array<std::size_t, 4> width{};
  for (const auto& line : cells)
    for (std::size_t i = 0; i < 4; ++i) width[i] = std::max(width[i], line[i].size());
  for (const auto& line : cells) {
    std::string text;
    for (std::size_t i = 0; i < 4; ++i) {
      text += line[i];
      if (i < 3) text += std::string(width[i] - line[i].size() + 2, ' ');
    }
    out += text + "\n";
  }
  bool any_problem = false;
  for (const auto& row : rows) {
    for (const auto& problem : row.problems) {
      if (!any_problem) out += "\nmissing:\n";
      any_problem = true;
      out += "  " + row.target + ": " + problem + "\n";
    }
  }
  return out;
}

std::string doctor_report(const std::vector<TargetDiagnosis>& rows, const Config& config,
                          const std::string& only_target) {
  std::string out = format_diagnosis(rows, config);
  const DoctorContext context{config, rows, only_target};
  for (const Backend* row : backends()) out += "\n" + row->doctor(context);
  return out;
}

}  // namespace xrun
