// The system backend: programs run in a minimal target VM (qemu-system)
// whose init is xrun's agent, started from saved state; the VMs of a target
// are a fleet of the machine pool (system_runner.h). docs/system-mode.md.
#include "backends/backend.h"
#include "backends/system/system_runner.h"
#include "backends/system/vm_arch.h"
#include "config/config.h"
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

// [targets.NAME]: the VM of a target, and the parts of its image a user may bring.
constexpr ConfigKey kKeys[] = {
    {"targets.*", "vm_kernel", ValueType::String, "XRUN_*_VM_KERNEL",
     "system mode: \"minimal\" (default where offered: built from Debian's linux-source) or \"debian\" (its kernel "
     "package)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (auto problem = one_of(v.text, {"minimal", "debian"}); !problem.empty()) return problem;
       slot.target->vm_kernel = v.text;
       return std::string();
     }},
    {"targets.*", "kernel", ValueType::String, "XRUN_*_KERNEL", "system mode: kernel image instead of Debian's",
     target_path<&TargetSettings::kernel>},
    {"targets.*", "modules", ValueType::String, "XRUN_*_MODULES",
     "system mode: lib/modules/<release> directory matching \"kernel\"", target_path<&TargetSettings::modules>},
    {"targets.*", "rootfs", ValueType::String, "XRUN_*_ROOTFS",
     "system mode: directory tree added to the VM's root filesystem", target_path<&TargetSettings::rootfs>},
    {"targets.*", "vm_cpu", ValueType::String, "XRUN_*_VM_CPU", "system mode: qemu-system -cpu model",
     target_string<&TargetSettings::vm_cpu>},
    {"targets.*", "vm_memory", ValueType::Integer, "XRUN_*_VM_MEMORY", "system mode: guest memory in MiB (default 128)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.integer < 32 || v.integer > 1024 * 1024)
         return std::string("must be a number of MiB from 32, not ") + std::to_string(v.integer);
       slot.target->vm_memory = v.integer;
       return std::string();
     }},
    {"targets.*", "vm_append", ValueType::String, "XRUN_*_VM_APPEND", "system mode: more kernel command line",
     target_string<&TargetSettings::vm_append>},
};

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
    .keys = kKeys,
    .sections = {},
    .check_config = nullptr,
    .make_runner = make_runner,
};

}  // namespace xrun
