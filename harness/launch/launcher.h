// From "run this program with these arguments" to the exact execve that does
// it: natively when the host can, under qemu-user otherwise.
//
// plan_launch() does every check up front -- the file, its architecture, the
// qemu binary, the sysroot and loader -- because qemu reports these badly (its
// loader errors go to stdout, its statuses are ambiguous). Once a plan exists,
// exec_plan() replaces xrun with it: the program then is the process the
// build tool started, so exit status, signals, stdin/stdout/stderr and the
// process tree are exactly native ones, and xrun costs nothing while it runs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/expected.h"
#include "launch/sysroot.h"
#include "probe/binary_probe.h"
#include "target/target_table.h"

namespace xrun {

struct RunRequest {
  std::string program;                // as given: a path, or a name looked up in PATH
  std::vector<std::string> args;      // argv[1..]
  std::optional<std::string> argv0;   // argv[0] the program sees; default: `program`
  std::optional<std::string> target;  // force a target (name or triple) instead of probing
  // What the caller found already, of the file `program` resolves to (the
  // routing runner: one probe and one target per program and run):
  // plan_launch then neither reads the file nor resolves its target again.
  const BinaryInfo* binary = nullptr;  // plan_launch probes the file when null
  const TargetSpec* spec = nullptr;    // plan_launch resolves it when null
};

struct LaunchPlan {
  std::string executable;  // what execve runs
  std::vector<std::string> argv;
  std::vector<std::string> env;  // the complete environment, "NAME=value"
  std::string target;            // target name; empty for a script run natively
  bool emulated = false;         // true when `executable` is qemu
  SysrootChoice sysroot;         // meaningful for emulated dynamic programs

  // The command, quoted for a POSIX shell (for --verbose and doctor).
  std::string command_line() const;
};

Expected<LaunchPlan> plan_launch(const RunRequest& request, const Config& config, const TargetTable& table,
                                 const OverlayStore& overlays, const std::vector<std::string>& environment);

// True when the host runs programs of `spec` itself: the same machine, and
// the program's loader is here (static programs need none).
bool runs_natively(const TargetSpec& spec, const ElfInfo& elf);
// Whether this host runs the target's programs itself: its machine is in the
// target's native_on, and for 32-bit x86 on x86_64, the kernel really runs
// them (asked once, by running one).
bool host_runs_target(const TargetSpec& spec);

// Replaces the process with the plan. Returns only if execve failed.
Error exec_plan(const LaunchPlan& plan);

// The process's environment as "NAME=value" strings.
std::vector<std::string> current_environment();

// Sets each "NAME=value" of `changes` in `env`, replacing an earlier value
// of NAME; linear in both (a configuration may set a million variables).
void set_environment(std::vector<std::string>& env, const std::vector<std::string>& changes);

// Quotes one word for a POSIX shell, only when it needs it.
std::string shell_quote(const std::string& word);

}  // namespace xrun
