// Every configuration key xrun understands, in one table (ccache's
// k_config_key_table habit): its section, type, environment override,
// meaning, and the function that checks a value and stores it. The loader
// reads a key the same way from a file and from the environment: it turns
// the raw value into a ConfigValue of the key's type, then calls the row's
// `store`. A new key is one row (and a line in the README's table): here
// when every backend reads it, else in its backend's row
// (backends/<name>/row.cpp: Backend::keys, with the sections it adds).
#pragma once

#include <cstdint>
#include <initializer_list>
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
  // A table of a section a row adds ("boards.*"), of the row's own type: the
  // row's ConfigSection::slot made it and the row's keys store into it, so
  // only the row names the type (table_as).
  void* table = nullptr;

  template <class T>
  T& table_as() const {
    return *static_cast<T*>(table);
  }
  // Where a key of type T in [targets.NAME] is kept: TargetSettings itself,
  // or a row's own type in its `rows`.
  template <class T>
  T& target_part() const;
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

// This file's keys, then every backend's (backends/registry.h).
std::span<const ConfigKey> config_keys();

// A section of named tables that a backend adds ([boards.NAME]): each table
// is checked against the keys whose section is "<name>.*".
struct ConfigSection {
  std::string_view name;     // "boards"
  std::string_view example;  // a table's name for messages: [boards.pi4]
  // Where table `table` is stored in `config` (made on its first mention in
  // `file`), as the slot its keys store into.
  ConfigSlot (*slot)(Config& config, const std::string& table, const std::string& file);
  // After a table's keys: what it lacks ("board \"pi4\" has no \"host\" ..."), or "".
  std::string (*lacks)(const ConfigSlot& slot, const std::string& table);
};

// Stores for the common shapes of a key, for the rows of every table.
// A path relative to the file that holds it (or, from the environment, to
// the cwd) made absolute.
std::string resolve_relative(const std::string& value, const std::string& base_dir);
// "" when `value` is one of `choices`, else `must be "a", "b" or "c", not "x"`.
std::string one_of(const std::string& value, std::initializer_list<std::string_view> choices);
// A key in [targets.NAME] stored into a field of TargetSettings or of a
// row's own type (`&VmConfig::vm_cpu`).
template <class Member>
struct MemberOf;
template <class Owner, class Field>
struct MemberOf<Field Owner::*> {
  using type = Owner;
};
template <auto Member>
std::string target_string(const ConfigValue& v, const ConfigSlot& slot) {
  slot.target_part<typename MemberOf<decltype(Member)>::type>().*Member = v.text;
  return "";
}
template <auto Member>
std::string target_path(const ConfigValue& v, const ConfigSlot& slot) {
  slot.target_part<typename MemberOf<decltype(Member)>::type>().*Member = resolve_relative(v.text, v.base_dir);
  return "";
}

// The environment override's name for `key`, for target `target` ("aarch64").
std::string env_name_for(const ConfigKey& key, std::string_view target);

// Environment variables that are not config keys but that xrun reads.
struct EnvVariable {
  std::string_view name;
  std::string_view help;
};
std::span<const EnvVariable> global_env_variables();

}  // namespace xrun
