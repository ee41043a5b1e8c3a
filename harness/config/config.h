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
#include <type_traits>
#include <utility>
#include <vector>

#include "config/config_keys.h"
#include "config/row_settings.h"
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
  // Which backend runs the target's programs.
  const Backend* backend = nullptr;  // a choosable row of backends/registry.h
  std::vector<std::string> shares;   // more host directories shown to machines (a VM's view, a board's mirror)
  RowSettings rows;                  // the rows' own keys, in their types (row_settings.h)
};

template <class T>
T& ConfigSlot::target_part() const {
  if constexpr (std::is_same_v<T, TargetSettings>)
    return *target;
  else
    return target->rows.get<T>();
}

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
  RowSettings rows;                // the sections rows add ([boards.NAME]), in their types (row_settings.h)
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
