// The system backend: programs run in a minimal target VM (qemu-system)
// whose init is xrun's agent, started from saved state; the VMs of a target
// are a fleet of the machine pool (system_runner.h). docs/system-mode.md.
#include "backends/backend.h"
#include "backends/system/system_runner.h"
#include "backends/system/vm_arch.h"
#include "target/target_table.h"

namespace xrun {

namespace {

constexpr BinaryFormat kFormats[] = {BinaryFormat::Elf};

constexpr BackendFlag kFlags[] = {
    {"--cold-boot", "system mode: boot the VMs instead of starting them from saved state"},
};

// The targets xrun has VMs for (vm_arch.h).
bool runs(const TargetSpec& spec, const ElfInfo*) { return find_vm_arch(spec.name) != nullptr; }

std::unique_ptr<JobRunner> make_runner(boost::asio::io_context& io, const Config& config,
                                       const RunnerOptions& options) {
  return make_system_runner(io, config,
                            SystemRunnerOptions{options.jobs, options.has_flag("--cold-boot"), options.fork_server});
}

}  // namespace

extern const Backend kSystemBackend;
constexpr Backend kSystemBackend{
    .name = "system",
    .help = "a booted target VM (qemu-system) running xrun's agent, one job at a time (xrun image build)",
    .family = BackendFamily::Machine,
    .choosable = true,
    .is_default = false,
    .formats = kFormats,
    .runs = runs,
    .execs_in_place = false,
    .foreign_exec = false,
    .flags = kFlags,
    .make_runner = make_runner,
};

}  // namespace xrun
