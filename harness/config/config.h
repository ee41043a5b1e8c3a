// xrun's configuration: built-in defaults from the target table, then the
// user file ($XDG_CONFIG_HOME/xrun/config.toml), then the project file (the
// nearest xrun.toml from the cwd upwards, or XRUN_CONFIG / --config), then
// XRUN_* environment variables. Later sources override earlier ones key by key.
//
// Loading checks everything and reports every problem at once: unknown
// sections, targets and keys (with a suggestion), wrong types, TOML syntax.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/expected.h"

namespace xrun {

struct Backend;  // backends/backend.h

// Environment variables that are the user's, for their tests, though they
// start with XRUN_: xrun's configuration never reads them (any other unknown
// XRUN_* variable is an error, a typo caught), and a board test gets them as
// they are, as it gets what build tools set (docs/boards.md).
inline constexpr const char* kPassedToTestsPrefix = "XRUN_PASS_";

// Per-target settings from the configuration; unset fields fall back to the
// target table.
struct TargetSettings {
  std::optional<std::string> sysroot;
  std::optional<std::string> qemu;
  std::optional<std::string> cpu;
  std::optional<std::vector<std::string>> qemu_args;
  std::map<std::string, std::string> env;
  // System mode (harness/backends/system): which backend runs the target's programs,
  // and the pieces of its VM image a user may bring instead of Debian's.
  const Backend* backend = nullptr;       // a choosable row of backends/registry.h
  std::optional<std::string> vm_kernel;   // "minimal" (built from Debian's source) or "debian" (its binary package)
  std::optional<std::string> kernel;      // kernel image file
  std::optional<std::string> modules;     // lib/modules/<release> directory for `kernel`
  std::optional<std::string> rootfs;      // directory tree added to the image's initramfs
  std::optional<std::string> vm_cpu;      // qemu-system -cpu
  std::optional<std::int64_t> vm_memory;  // qemu-system -m (MiB)
  std::optional<std::string> vm_append;   // more kernel command line
  std::vector<std::string> shares;        // more host directories shown in the VM (and mirrored onto boards)
  std::vector<std::string> boards;        // backend "board": the [boards.NAME] that run the target's programs
};

// A board reached over SSH ([boards.NAME], harness/backends/board). Everything but
// `host` is optional; ssh's own configuration fills in the rest.
struct BoardSettings {
  std::string host;                       // anything ssh accepts: an alias, a name, an address
  std::optional<std::string> user;        // ssh -l
  std::optional<std::int64_t> port;       // ssh -p
  std::optional<std::string> identity;    // ssh -i
  std::optional<std::string> ssh_config;  // ssh -F (relative to the file that names it)
  std::optional<std::string> arch;        // checked against `uname -m` on first contact
  std::optional<std::string> host_key;    // "SHA256:...": the pinned host key; else the user's known_hosts
  std::int64_t max_jobs = 1;
  std::vector<std::string> tags;
  std::optional<std::string> reset;  // a shell command that power-cycles the board
  bool exclusive = false;            // one xrun run at a time on it
  double lock_timeout = 600;         // waiting for another run's lock, seconds
  double connect_timeout = 10;       // ssh's ConnectTimeout, and the agent's start
  bool sync_back = false;            // copy back what a test writes under its cwd and shares
  std::string defined_in;            // the file, for messages
};

// `xrun test` defaults from [test]; command-line options override them.
struct TestSettings {
  std::optional<std::int64_t> jobs;
  std::optional<double> timeout;
  std::optional<double> grace;
  std::optional<std::int64_t> retries;
  std::optional<std::string> isolation;
  std::optional<bool> fail_fast;
  std::optional<std::string> no_tests;  // "fail", "warn" or "pass"
  std::optional<std::string> junit;
  std::optional<std::string> json;
  std::optional<std::string> html;
  std::optional<double> slow;           // seconds before a running test is marked SLOW
  std::optional<std::int64_t> slowest;  // the summary's list of the slowest tests
};

// Tests that must not run too many at once ([groups.NAME]): those of the
// binaries matching `binaries` (globs on the file name) whose names match
// `filter` (globs); an empty list matches everything, not both empty.
struct TestGroup {
  std::vector<std::string> filter;
  std::vector<std::string> binaries;
  std::int64_t max_jobs = 1;
};

struct Config {
  std::map<std::string, TargetSettings, std::less<>> targets;
  TestSettings test;
  std::map<std::string, TestGroup> groups;
  std::map<std::string, BoardSettings> boards;
  std::vector<std::string> files;  // the files that were read, lowest precedence first

  // Settings for a target; an empty set when nothing is configured.
  const TargetSettings& target(std::string_view name) const;
};

struct ConfigInputs {
  std::string cwd;                                               // where the project file search starts
  std::optional<std::string> explicit_file;                      // --config or XRUN_CONFIG
  std::optional<std::string> user_file;                          // normally $XDG_CONFIG_HOME/xrun/config.toml
  std::vector<std::pair<std::string, std::string>> environment;  // XRUN_* variables
};

// The inputs as the running process sees them (cwd, XDG, environ).
ConfigInputs config_inputs_from_process(std::optional<std::string> explicit_file);

// Errors have code Usage and one line per problem ("file:line:col: ...").
Expected<Config> load_config(const ConfigInputs& inputs);

// The nearest xrun.toml in `dir` or its parents.
std::optional<std::string> find_project_config(const std::string& dir);

}  // namespace xrun
