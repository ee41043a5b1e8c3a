// The system backend: programs run in a minimal target VM (qemu-system)
// whose init is xrun's agent, started from saved state; the VMs of a target
// are a fleet of the machine pool (system_runner.h). docs/system-mode.md.
#include <fmt/format.h>

#include "backends/backend.h"
#include "backends/system/image.h"
#include "backends/system/image_command.h"
#include "backends/system/saved_state.h"
#include "backends/system/system_runner.h"
#include "backends/system/vm.h"
#include "backends/system/vm_arch.h"
#include "backends/system/vm_config.h"
#include "config/config.h"
#include "core/fs_util.h"
#include "doctor/doctor.h"
#include "target/target_table.h"

namespace xrun {

extern const Backend kSystemBackend;

namespace {

constexpr BinaryFormat kFormats[] = {BinaryFormat::Elf};

constexpr BackendFlag kFlags[] = {
    {"--cold-boot", "system mode: boot the VMs instead of starting them from saved state"},
};

constexpr BackendCommand kCommands[] = {
    {"image", "image build|list|rm [--arch A]", "VM images for system mode (--backend system)", image_command},
};

// The targets xrun has VMs for (vm_arch.h).
bool runs(const TargetSpec& spec, const ElfInfo*) { return find_vm_arch(spec.name) != nullptr; }

std::unique_ptr<JobRunner> make_runner(boost::asio::io_context& io, const Config& config,
                                       const RunnerOptions& options) {
  return make_system_runner(
      io, config,
      SystemRunnerOptions{options.jobs, options.has_flag("--cold-boot"), options.fork_server, options.warnings});
}

// [targets.NAME]: the VM of a target, and the parts of its image a user may bring.
constexpr ConfigKey kKeys[] = {
    {"targets.*", "vm_kernel", ValueType::String, "XRUN_*_VM_KERNEL",
     "system mode: \"minimal\" (default where offered: built from Debian's linux-source) or \"debian\" (its kernel "
     "package)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (auto problem = one_of(v.text, {"minimal", "debian"}); !problem.empty()) return problem;
       slot.target_part<VmConfig>().vm_kernel = v.text;
       return std::string();
     }},
    {"targets.*", "kernel", ValueType::String, "XRUN_*_KERNEL", "system mode: kernel image instead of Debian's",
     target_path<&VmConfig::kernel>},
    {"targets.*", "modules", ValueType::String, "XRUN_*_MODULES",
     "system mode: lib/modules/<release> directory matching \"kernel\"", target_path<&VmConfig::modules>},
    {"targets.*", "rootfs", ValueType::String, "XRUN_*_ROOTFS",
     "system mode: directory tree added to the VM's root filesystem", target_path<&VmConfig::rootfs>},
    {"targets.*", "vm_cpu", ValueType::String, "XRUN_*_VM_CPU", "system mode: qemu-system -cpu model",
     target_string<&VmConfig::vm_cpu>},
    {"targets.*", "vm_memory", ValueType::Integer, "XRUN_*_VM_MEMORY", "system mode: guest memory in MiB (default 128)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.integer < 32 || v.integer > 1024 * 1024)
         return std::string("must be a number of MiB from 32, not ") + std::to_string(v.integer);
       slot.target_part<VmConfig>().vm_memory = v.integer;
       return std::string();
     }},
    {"targets.*", "vm_append", ValueType::String, "XRUN_*_VM_APPEND", "system mode: more kernel command line",
     target_string<&VmConfig::vm_append>},
};

// What a run on this backend would boot, target by target.
std::string doctor(const DoctorContext& context) {
  std::string out = "SYSTEM MODE (--backend system)\n";
  for (const auto& name : vm_arch_names()) {
    if (!context.only_target.empty() && context.only_target != name) continue;
    const VmArch* arch = find_vm_arch(name);
    const TargetSettings& settings = context.config.target(name);
    auto qemu = find_program(arch->qemu_system);
    const ImageLocation image = image_location(*arch, vm_config(settings));
    std::string state = "no image: xrun image build --arch " + name;
    if (is_regular_file(image.manifest)) {
      // The saved state is per machine settings (saved_state.cpp: snapshot-<key>):
      // the one this configuration's runs would restore from.
      auto planned = planned_vm_settings(name, context.config);
      const bool saved = planned && find_saved_state(*planned);
      state = "image " + image.name + (saved ? ", saved state ready" : ", no saved state yet");
    }
    out += fmt::format(
        "{:<8} {:<34} {}{}\n", name,
        qemu ? *qemu : std::string(arch->qemu_system) + " missing: apt-get install " + std::string(arch->qemu_package),
        state, settings.backend == &kSystemBackend ? " (configured)" : "");
  }
  return out;
}

}  // namespace

constexpr Backend kSystemBackend{
    .name = "system",
    .help = "a booted target VM (qemu-system) running xrun's agent (xrun image build)",
    .family = BackendFamily::Machine,
    .choosable = true,
    .is_default = false,
    .formats = kFormats,
    .runs = runs,
    .execs_in_place = false,
    .foreign_exec = false,
    .flags = kFlags,
    .commands = kCommands,
    .keys = kKeys,
    .sections = {},
    .check_config = nullptr,
    .make_runner = make_runner,
    .doctor = doctor,
};

}  // namespace xrun
