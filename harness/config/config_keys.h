// Every configuration key xrun understands, in one table (ccache's
// k_config_key_table habit): its section, type, environment override and
// meaning. The loader, the "did you mean" suggestions and the README's key
// reference all come from here; a key that is not in this table is an error.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace xrun {

enum class ValueType { String, StringArray, StringTable, Integer, Number, Boolean };

std::string_view value_type_name(ValueType type);

struct ConfigKey {
  // "targets.*" for per-target keys ([targets.aarch64] in xrun.toml);
  // "test" for `xrun test` defaults ([test]).
  std::string_view section;
  std::string_view name;
  ValueType type;
  // Environment override; "*" stands for the upper-cased target name
  // (XRUN_AARCH64_SYSROOT). Empty when the key has none.
  std::string_view env;
  std::string_view help;
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
