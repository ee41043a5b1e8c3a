// A backend is a row (LLVM's TargetRegistry, libvirt's virHypervisorDriver,
// the kernel's list of linux_binfmt): everything xrun knows about one way of
// running programs, in one value. Each row is defined in its backend's folder
// (backends/<name>/row.cpp) and listed once, in backends/registry.cpp; the
// command line, `xrun --help`, the configuration, doctor, routing and
// shutdown read the rows and never spell a backend's name.
//
// Two families:
//   launchers turn a program into one host process (native, qemu-user): a
//     single run execs it in xrun's place, `xrun test` spawns it;
//   machines are long-lived targets running xrun's agent (system VMs,
//     boards): their jobs go to a MachinePool (machine/machine_pool.h).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_keys.h"
#include "core/warnings.h"
#include "probe/binary_probe.h"

namespace boost::asio {
class io_context;
}

namespace xrun {

struct Config;
struct DoctorContext;
struct ElfInfo;
struct TargetSpec;
class JobRunner;

enum class BackendFamily { Launcher, Machine };

// A command-line switch of a row's own (--cold-boot), taken by the single
// run and by `xrun test` alike, before PROGRAM or a subcommand.
struct BackendFlag {
  std::string_view name;  // "--cold-boot"
  std::string_view help;  // one line, for `xrun --help` and `xrun test --help`
};

// How the command line asks a row to make its runner.
struct RunnerOptions {
  int jobs = 1;  // jobs at once: how many machines a backend may start for a target
  // A job marked JobRequest::fork_server may fork from a started copy of its
  // program (`xrun test`, unless --no-fork-server); false for a single run.
  bool fork_server = false;
  std::vector<std::string> flags;  // the rows' flags given (BackendFlag::name)
  // Where its warnings go (core/warnings.h): `xrun test`'s reporters, else stderr.
  Warnings* warnings = &stderr_warnings();
  bool has_flag(std::string_view flag) const {
    for (const auto& given : flags)
      if (given == flag) return true;
    return false;
  }
};

// A subcommand of a row's own (`xrun image`, `xrun board`): what only this
// backend has to manage. `xrun --help` lists it; `xrun NAME ...` runs it.
struct BackendCommand {
  std::string_view name;   // "image"
  std::string_view usage;  // its line in `xrun --help`, after "xrun ": "image build|list|rm [--arch A]"
  std::string_view help;   // what it does, on the same line
  // Given the words after NAME (and the options given before it, but -v);
  // returns xrun's exit status.
  int (*run)(const std::vector<std::string>& args);
};

struct Backend {
  std::string_view name;  // "qemu-user": --backend, `backend =`, the reports
  std::string_view help;  // one line, for `xrun --help` and the README's table
  BackendFamily family;
  // The user chooses it by name (--backend, `backend =`, a CTest emulator
  // line). A row that is not chosen by name (native) takes the programs it
  // runs before any choice is looked at.
  bool choosable;
  // It runs the foreign programs of its formats that nothing chose a
  // backend for (qemu-user, for ELF).
  bool is_default;
  // What it can run: files of these formats (probe/binary_probe.h: ELF
  // today; PE/COFF and WebAssembly, which the probe recognises, have no row
  // yet and are refused by routing), and of them the targets runs() accepts
  // (`elf` null: can it run any program of the target?). A backend that is
  // chosen for a target it cannot run is still given its programs, and its
  // runner says why not.
  std::span<const BinaryFormat> formats;
  bool (*runs)(const TargetSpec& spec, const ElfInfo* elf);
  // A single run (`xrun PROGRAM`) replaces xrun with the program's process
  // instead of supervising it through run_interactive().
  bool execs_in_place;
  // Its jobs run under xrun's binfmt_misc for foreign programs
  // (binfmt/foreign_exec.h): a test that printed "Exec format error" is
  // explained with what is missing.
  bool foreign_exec;
  std::span<const BackendFlag> flags;        // its command-line switches
  std::span<const BackendCommand> commands;  // its subcommands
  // Its configuration: keys (in [targets.NAME], with their XRUN_* variables,
  // or in a section of its own), the sections it adds ([boards.NAME]), and
  // what is checked once everything is read (a target's boards are defined);
  // each problem one message.
  std::span<const ConfigKey> keys;
  std::span<const ConfigSection> sections;
  std::vector<std::string> (*check_config)(const Config& config);
  // Its JobRunner, made on the first job routed to it. The runner's
  // signal_all() and shutdown() reach everything the backend runs: the
  // routing runner calls them for every row's runner.
  std::unique_ptr<JobRunner> (*make_runner)(boost::asio::io_context& io, const Config& config,
                                            const RunnerOptions& options);
  // Its section of `xrun doctor`: a heading that starts with its name in
  // capitals, then what this host has for it, a line each.
  std::string (*doctor)(const DoctorContext& context);
};

}  // namespace xrun
