// The native backend: what the host runs itself -- a program for its own
// machine whose loader is here, a script, CTest's `cmake -P` -- runs as it
// is, whatever backend was chosen for foreign programs. Its launcher is
// launch/launcher.h's plan (native when runs_natively() says so) and, for
// `xrun test`, engine/process_runner.h.
#include <fmt/format.h>

#include "backends/backend.h"
#include "doctor/doctor.h"
#include "engine/process_runner.h"
#include "launch/launcher.h"

namespace xrun {

namespace {

// Host programs, and scripts: the kernel runs a script's interpreter natively.
constexpr BinaryFormat kFormats[] = {BinaryFormat::Elf, BinaryFormat::Script};

bool runs(const TargetSpec& spec, const ElfInfo* elf) {
  return elf ? runs_natively(spec, *elf) : host_runs_target(spec);
}

std::unique_ptr<JobRunner> make_runner(boost::asio::io_context& io, const Config& config, const RunnerOptions&) {
  return std::make_unique<ProcessRunner>(io, config, OverlayStore::from_environment());
}

// The targets the host runs itself, and their loader.
std::string doctor(const DoctorContext& context) {
  std::string out = "NATIVE (programs the host runs itself, whatever --backend says)\n";
  bool any = false;
  for (const auto& row : context.targets) {
    if (!row.native) continue;
    any = true;
    out += fmt::format("{:<9} {}\n", row.target,
                       row.runs_dynamic ? row.sysroot : "static programs only (no loader here for dynamic ones)");
  }
  if (!any) out += "none of these targets\n";
  return out;
}

}  // namespace

extern const Backend kNativeBackend;
constexpr Backend kNativeBackend{
    .name = "native",
    .help = "the host's own programs and scripts, run as they are whatever --backend says",
    .family = BackendFamily::Launcher,
    .choosable = false,
    .is_default = false,
    .formats = kFormats,
    .runs = runs,
    .execs_in_place = true,
    .foreign_exec = false,
    .flags = {},
    .commands = {},
    .keys = {},
    .sections = {},
    .check_config = nullptr,
    .make_runner = make_runner,
    .doctor = doctor,
};

}  // namespace xrun
