#include "config/config_keys.h"

#include <algorithm>
#include <cctype>

#include "backends/registry.h"
#include "config/config.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"

namespace xrun {

namespace {

constexpr double kMaxSeconds = 7 * 24 * 3600;

// Stores for the common shapes of [test]; `Member` names the field.
template <auto Member>
std::string test_path(const ConfigValue& v, const ConfigSlot& slot) {
  slot.test->*Member = resolve_relative(v.text, v.base_dir);
  return "";
}
template <auto Member>
std::string test_seconds(const ConfigValue& v, const ConfigSlot& slot) {
  // Finite and at most a week: a larger value overflows the timers (every
  // test would time out at once).
  if (!(v.number > 0) || !(v.number <= kMaxSeconds))
    return "must be a number of seconds above 0 and at most " + std::to_string(static_cast<long>(kMaxSeconds)) +
           " (a week)";
  slot.test->*Member = v.number;
  return "";
}
template <auto Member, std::int64_t Minimum>
std::string test_count(const ConfigValue& v, const ConfigSlot& slot) {
  if (v.integer < Minimum) return Minimum == 0 ? "must be 0 or more" : "must be at least " + std::to_string(Minimum);
  slot.test->*Member = v.integer;
  return "";
}
constexpr ConfigKey kConfigKeys[] = {
    {"targets.*", "env", ValueType::StringTable, "",
     "environment variables set for the program, on top of the inherited environment",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       for (const auto& [name, value] : v.table) slot.target->env[name] = value;
       return std::string();
     }},
    {"targets.*", "backend", ValueType::String, "XRUN_*_BACKEND",
     "where the target's foreign programs run: a backend's name (xrun --help lists them)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       const Backend* backend = parse_backend(v.text);
       if (!backend) return "must be " + backend_choices() + ", not " + quoted(v.text);
       slot.target->backend = backend;
       return std::string();
     }},
    {"targets.*", "shares", ValueType::StringArray, "",
     "machines: more host directories their jobs see at the same path (shown in a VM, mirrored onto a board)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       for (const auto& share : v.strings) slot.target->shares.push_back(resolve_relative(share, v.base_dir));
       return std::string();
     }},
    {"test", "jobs", ValueType::Integer, "XRUN_TEST_JOBS", "tests run at once (default: number of cores)",
     test_count<&TestSettings::jobs, 1>},
    {"test", "timeout", ValueType::Number, "XRUN_TEST_TIMEOUT", "seconds a test may run before it is stopped",
     test_seconds<&TestSettings::timeout>},
    {"test", "grace", ValueType::Number, "XRUN_TEST_GRACE",
     "seconds between SIGTERM and SIGKILL on a timeout (default 2)", test_seconds<&TestSettings::grace>},
    {"test", "retries", ValueType::Integer, "XRUN_TEST_RETRIES",
     "re-runs of a failing test; passing on one makes it flaky", test_count<&TestSettings::retries, 0>},
    {"test", "isolation", ValueType::String, "XRUN_TEST_ISOLATION", "\"batch\" (default) or \"process\"",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (auto problem = one_of(v.text, {"batch", "process"}); !problem.empty()) return problem;
       slot.test->isolation = v.text;
       return std::string();
     }},
    {"test", "no_tests", ValueType::String, "XRUN_TEST_NO_TESTS",
     "when no test is left to run: \"fail\" (default, exit 5), \"warn\" or \"pass\" (exit 0)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (auto problem = one_of(v.text, {"fail", "warn", "pass"}); !problem.empty()) return problem;
       slot.test->no_tests = v.text;
       return std::string();
     }},
    {"test", "fail_fast", ValueType::Boolean, "XRUN_TEST_FAIL_FAST", "stop at the first failing test",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.test->fail_fast = v.boolean;
       return std::string();
     }},
    {"test", "junit", ValueType::String, "XRUN_TEST_JUNIT", "JUnit XML report path", test_path<&TestSettings::junit>},
    {"test", "json", ValueType::String, "XRUN_TEST_JSON", "JSON report path", test_path<&TestSettings::json>},
    {"test", "html", ValueType::String, "XRUN_TEST_HTML", "HTML report path (one self-contained file)",
     test_path<&TestSettings::html>},
    {"test", "slow", ValueType::Number, "XRUN_TEST_SLOW", "seconds before a running test is marked SLOW (default 60)",
     test_seconds<&TestSettings::slow>},
    {"test", "slowest", ValueType::Integer, "XRUN_TEST_SLOWEST",
     "the slowest tests the summary lists (default 5 on a terminal, else 0)", test_count<&TestSettings::slowest, 0>},
    {"groups.*", "filter", ValueType::StringArray, "",
     "test names (globs: * and ?) that belong to the group; default: every test of its binaries",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.group->filter = v.strings;
       return std::string();
     }},
    {"groups.*", "binaries", ValueType::StringArray, "",
     "test binaries (globs on the file name) whose tests belong to the group; default: every binary",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.group->binaries = v.strings;
       return std::string();
     }},
    {"groups.*", "max_jobs", ValueType::Integer, "", "the group's tests at once (default 1: one after another)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.integer < 1) return "must be at least 1, not " + std::to_string(v.integer);
       slot.group->max_jobs = v.integer;
       return std::string();
     }},
};

constexpr EnvVariable kGlobalEnv[] = {
    {"XRUN_CONFIG", "configuration file to use instead of the nearest xrun.toml"},
    {"XRUN_LOG", "debug trace level: trace, debug, info, warn, error or off"},
};

}  // namespace

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::String:
      return "a string";
    case ValueType::StringArray:
      return "an array of strings";
    case ValueType::StringTable:
      return "a table of strings";
    case ValueType::Integer:
      return "an integer";
    case ValueType::Number:
      return "a number";
    case ValueType::Boolean:
      return "a boolean";
  }
  return "a value";
}

std::string resolve_relative(const std::string& value, const std::string& base_dir) {
  if (value.empty() || value[0] == '/' || base_dir.empty()) return value;
  return join_path(base_dir, value);
}

std::string one_of(const std::string& value, std::initializer_list<std::string_view> choices) {
  std::string names;
  std::size_t i = 0;
  for (auto choice : choices) {
    if (choice == value) return "";
    if (i > 0) names += i + 1 == choices.size() ? " or " : ", ";
    names += quoted(choice);
    ++i;
  }
  return "must be " + names + ", not " + quoted(value);
}

std::span<const ConfigKey> config_keys() {
  static const std::vector<ConfigKey> all = [] {
    std::vector<ConfigKey> keys(std::begin(kConfigKeys), std::end(kConfigKeys));
    for (const Backend* row : backends()) keys.insert(keys.end(), row->keys.begin(), row->keys.end());
    return keys;
  }();
  return all;
}

std::span<const EnvVariable> global_env_variables() { return kGlobalEnv; }

std::string env_name_for(const ConfigKey& key, std::string_view target) {
  std::string upper;
  for (char c : target) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string out;
  for (char c : key.env) {
    if (c == '*')
      out += upper;
    else
      out += c;
  }
  return out;
}

}  // namespace xrun
