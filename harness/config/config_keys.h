// Every configuration key xrun understands, in one table (ccache's
// k_config_key_table habit): its section, type, environment override,
// meaning, and the function that checks a value and stores it. The loader
// reads a key the same way from a file and from the environment: it turns
// the raw value into a ConfigValue of the key's type, then calls the row's
// `store`. A new key is one row here (and a line in the README's table).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xrun {

struct Config;
struct TargetSettings;
struct TestSettings;
struct TestGroup;
struct BoardSettings;

enum class ValueType { String, StringArray, StringTable, Integer, Number, Boolean };

std::string_view value_type_name(ValueType type);

// A value already of its key's type (the loader checked that), and the
// directory relative paths in it are relative to: the file's, or the cwd for
// the environment.
struct ConfigValue {
  std::string text;                          // String
  std::vector<std::string> strings;          // StringArray
  std::map<std::string, std::string> table;  // StringTable
  std::int64_t integer = 0;                  // Integer
  double number = 0;                         // Number
  bool boolean = false;                      // Boolean
  std::string base_dir;
};

// What a row stores into: the one that its section names.
struct ConfigSlot {
  TargetSettings* target = nullptr;  // "targets.*"
  TestSettings* test = nullptr;      // "test"
  TestGroup* group = nullptr;        // "groups.*"
  BoardSettings* board = nullptr;    // "boards.*"
};

struct ConfigKey {
  // "targets.*" for per-target keys ([targets.aarch64] in xrun.toml);
  // "test" for `xrun test` defaults ([test]); "groups.*" for test groups.
  std::string_view section;
  std::string_view name;
  ValueType type;
  // Environment override; "*" stands for the upper-cased target name
  // (XRUN_AARCH64_SYSROOT). Empty when the key has none.
  std::string_view env;
  std::string_view help;
  // Checks the value's range or vocabulary and stores it. Returns "" or the
  // problem, worded to follow the key's name: `must be at least 1, not 0`.
  std::string (*store)(const ConfigValue& value, const ConfigSlot& slot);
};

std::span<const ConfigKey> config_keys();

// The environment override's name for `key`, for target `target` ("aarch64").
std::string env_name_for(const ConfigKey& key, std::string_view target);

// Environment variables that are not config keys but that xrun reads.
struct EnvVariable {
  std::string_view name;
  std::string_view help;
};
std::span<const EnvVariable> global_env_variables();

}  // namespace xrun
