// `xrun doctor`: for each target, what xrun would run its programs with and
// what is missing, with the package that provides it.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "launch/sysroot.h"
#include "target/target_table.h"

namespace xrun {

struct TargetDiagnosis {
  std::string target;
  bool configured = false;            // named in a config file or XRUN_* variable
  bool native = false;                // the host runs it directly
  std::string qemu_path;              // resolved qemu binary, empty when missing or native
  std::string qemu_version;           // "7.2.22"
  std::string sysroot;                // description of the sysroot for dynamic programs
  std::vector<std::string> problems;  // each with the fix
  bool runs_static = false;
  bool runs_dynamic = false;
};

std::vector<TargetDiagnosis> diagnose_targets(const Config& config, const TargetTable& table,
                                              const OverlayStore& overlays);

// Renders the diagnosis as the table `xrun doctor` prints.
std::string format_diagnosis(const std::vector<TargetDiagnosis>& rows, const Config& config);

// What a backend's section of `xrun doctor` is told (Backend::doctor).
struct DoctorContext {
  const Config& config;
  const std::vector<TargetDiagnosis>& targets;  // the table's rows: the targets asked about
  std::string only_target;                      // --target: that target's name; empty: every target
};

// All `xrun doctor` prints: the table, then every backend's section in the
// registry's order.
std::string doctor_report(const std::vector<TargetDiagnosis>& rows, const Config& config,
                          const std::string& only_target);

}  // namespace xrun
