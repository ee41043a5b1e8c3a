// The qemu-user backend, the default for foreign ELF programs: one
// qemu-user process per program (launch/launcher.h: the sysroot and loader
// chosen so they never mix glibc builds, qemu's own failures read by
// launch/qemu_faults.h), exec'd in xrun's place for a single run, spawned by
// engine/process_runner.h for `xrun test` (in process isolation forked from
// a fork server per binary, engine/fork_server.h).
#include <fmt/format.h>

#include <map>
#include <optional>

#include "backends/backend.h"
#include "config/config.h"
#include "doctor/doctor.h"
#include "engine/process_runner.h"
#include "machine/guest_parts.h"

namespace xrun {

namespace {

constexpr BinaryFormat kFormats[] = {BinaryFormat::Elf};

// Every target of the table: its qemu and sysroot are checked when a
// program of it is planned (and by `xrun doctor`).
bool runs(const TargetSpec&, const ElfInfo*) { return true; }

std::unique_ptr<JobRunner> make_runner(boost::asio::io_context& io, const Config& config,
                                       const RunnerOptions& options) {
  ProcessRunnerOptions process;
  if (options.fork_server) {
    // The library the agent preloads on a machine, built for each target
    // xrun builds guest parts for (machine/guest_parts.h).
    process.fork_server_library =
        [found = std::map<std::string, std::optional<std::string>>()](const std::string& target) mutable {
          auto [it, inserted] = found.emplace(target, std::nullopt);
          if (inserted)
            if (const GuestArch* arch = find_guest_arch(target))
              if (auto library = find_guest_part(*arch, GuestPart::ForkServer)) it->second = *library;
          return it->second;
        };
  }
  return std::make_unique<ProcessRunner>(io, config, OverlayStore::from_environment(), std::move(process));
}

// [targets.NAME]: the qemu, CPU and sysroot a target's programs run with.
constexpr ConfigKey kKeys[] = {
    {"targets.*", "sysroot", ValueType::String, "XRUN_*_SYSROOT",
     "directory holding the target's libc and loader: a Debian cross sysroot (/usr/<triple>) "
     "or a full target root filesystem",
     target_path<&TargetSettings::sysroot>},
    {"targets.*", "qemu", ValueType::String, "XRUN_*_QEMU", "qemu-user binary to run the target's programs with",
     target_string<&TargetSettings::qemu>},
    {"targets.*", "cpu", ValueType::String, "XRUN_*_CPU", "CPU model passed to qemu as -cpu",
     target_string<&TargetSettings::cpu>},
    {"targets.*", "qemu_args", ValueType::StringArray, "XRUN_*_QEMU_ARGS",
     "extra qemu-user arguments (environment form: separated by spaces)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.target->qemu_args = v.strings;
       return std::string();
     }},
};

// The foreign targets by what their qemu and sysroot allow (the table says
// which qemu and sysroot; "missing" how to fix).
std::string doctor(const DoctorContext& context) {
  std::string out = "QEMU-USER (--backend qemu-user, the default for foreign programs)\n";
  std::string ok, static_only, unusable;
  const auto add = [](std::string& list, const std::string& target) { list += (list.empty() ? "" : ", ") + target; };
  for (const auto& row : context.targets) {
    if (row.native && row.runs_dynamic) continue;
    if (row.qemu_path.empty())
      add(unusable, row.target);
    else if (!row.runs_dynamic)
      add(static_only, row.target);
    else
      add(ok, row.target);
  }
  if (!ok.empty()) out += "static and dynamic programs: " + ok + "\n";
  if (!static_only.empty()) out += "static programs only: " + static_only + "\n";
  if (!unusable.empty()) out += "unusable: " + unusable + " (missing: above)\n";
  if (ok.empty() && static_only.empty() && unusable.empty()) out += "none of these targets\n";
  return out;
}

}  // namespace

extern const Backend kQemuUserBackend;
constexpr Backend kQemuUserBackend{
    .name = "qemu-user",
    .help = "one qemu-user process per program (a single run: exec'd in xrun's place)",
    .family = BackendFamily::Launcher,
    .choosable = true,
    .is_default = true,
    .formats = kFormats,
    .runs = runs,
    .execs_in_place = true,
    .foreign_exec = true,
    .flags = {},
    .commands = {},
    .keys = kKeys,
    .sections = {},
    .check_config = nullptr,
    .make_runner = make_runner,
    .doctor = doctor,
};

}  // namespace xrun
