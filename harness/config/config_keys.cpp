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

std::string resolve_relative(const std::string& value, const std::string& base_dir) {
  if (value.empty() || value[0] == '/' || base_dir.empty()) return value;
  return join_path(base_dir, value);
}

// Stores for the common shapes; `Member` names the field.
template <auto Member>
std::string target_string(const ConfigValue& v, const ConfigSlot& slot) {
  slot.target->*Member = v.text;
  return "";
}
template <auto Member>
std::string target_path(const ConfigValue& v, const ConfigSlot& slot) {
  slot.target->*Member = resolve_relative(v.text, v.base_dir);
  return "";
}
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

constexpr ConfigKey kConfigKeys[] = {
    {"targets.*", "sysroot", ValueType::String, "XRUN_*_SYSROOT",
     "directory holding the target's libc and loader: a Debian cross sysroot (/usr/<triple>) "
     "or a full target root filesystem",
     target_path<&TargetSettings::sysroot>},
    {"targets.*", "qemu", ValueType::String, "XRUN_*_QEMU", "qemu-user binary to run the target's programs with",
     target_string<&TargetSettings::qemu>},
    {"targets.*", "cpu", ValueType::String, "XRUN_*_CPU", "CPU model passed to qemu as -cpu",
     target_string<&TargetSettings::cpu>},
    {"targets.*", "qemu_args", ValueType::StringArray, "XRUN_*_QEMU_ARGS",
     "extra qemu-user arguments (environment form: separated by spaces)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.target->qemu_args = v.strings;
       return std::string();
     }},
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
    {"targets.*", "shares", ValueType::StringArray, "",
     "system mode: more host directories shown in the VM at the same path",
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
    {"targets.*", "boards", ValueType::StringArray, "",
     "backend \"board\": the boards ([boards.NAME]) that run the target's programs; jobs spread over them",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.target->boards = v.strings;
       return std::string();
     }},
    {"boards.*", "host", ValueType::String, "", "what ssh connects to: a ~/.ssh/config alias, a name or an address",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.text.empty() || v.text[0] == '-') return "must be a host name, not " + quoted(v.text);
       slot.board->host = v.text;
       return std::string();
     }},
    {"boards.*", "user", ValueType::String, "", "the user to log in as (ssh -l); default: ssh's",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.text.empty() || v.text[0] == '-') return "must be a user name, not " + quoted(v.text);
       slot.board->user = v.text;
       return std::string();
     }},
    {"boards.*", "port", ValueType::Integer, "", "the SSH port (ssh -p); default: ssh's",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.integer < 1 || v.integer > 65535)
         return "must be a port from 1 to 65535, not " + std::to_string(v.integer);
       slot.board->port = v.integer;
       return std::string();
     }},
    {"boards.*", "identity", ValueType::String, "", "a private key file (ssh -i), relative to this file",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.board->identity = resolve_relative(v.text, v.base_dir);
       return std::string();
     }},
    {"boards.*", "ssh_config", ValueType::String, "", "an ssh configuration file (ssh -F), relative to this file",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.board->ssh_config = resolve_relative(v.text, v.base_dir);
       return std::string();
     }},
    {"boards.*", "arch", ValueType::String, "",
     "the board's `uname -m` (aarch64, armv7l, ...), checked on first contact",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       // Compared with what the board's `uname -m` prints: one word.
       const bool word = !v.text.empty() && std::all_of(v.text.begin(), v.text.end(), [](unsigned char c) {
         return std::isalnum(c) || c == '_' || c == '-';
       });
       if (!word) return "must be a machine name as `uname -m` prints it (aarch64, armv7l), not " + quoted(v.text);
       slot.board->arch = v.text;
       return std::string();
     }},
    {"boards.*", "host_key", ValueType::String, "",
     "the board's host key fingerprint (\"SHA256:...\", as `xrun board check` prints it); default: known_hosts",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.text.rfind("SHA256:", 0) != 0 || v.text.size() < 20)
         return "must be a fingerprint like \"SHA256:AbC...\" (ssh-keygen -lf), not " + quoted(v.text);
       slot.board->host_key = v.text;
       return std::string();
     }},
    {"boards.*", "max_jobs", ValueType::Integer, "", "tests at once on the board (default 1)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.integer < 1 || v.integer > 60) return "must be from 1 to 60, not " + std::to_string(v.integer);
       slot.board->max_jobs = v.integer;
       return std::string();
     }},
    {"boards.*", "tags", ValueType::StringArray, "", "labels for the board (shown by `xrun board list`)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.board->tags = v.strings;
       return std::string();
     }},
    {"boards.*", "reset", ValueType::String, "",
     "a shell command that power-cycles the board (a smart plug, a relay, a BMC), run when it stops answering",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.board->reset = v.text;
       return std::string();
     }},
    {"boards.*", "exclusive", ValueType::Boolean, "",
     "serve one xrun run at a time (a lock the board's kernel releases)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.board->exclusive = v.boolean;
       return std::string();
     }},
    {"boards.*", "lock_timeout", ValueType::Number, "",
     "how long to wait for another run's lock, in seconds (default 600)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.number < 0) return "must not be negative, not " + std::to_string(v.number);
       slot.board->lock_timeout = v.number;
       return std::string();
     }},
    {"boards.*", "sync_back", ValueType::Boolean, "",
     "copy back to the host what a test wrote on the board under its cwd and the shares (default false)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.board->sync_back = v.boolean;
       return std::string();
     }},
    {"boards.*", "connect_timeout", ValueType::Number, "", "seconds to connect and start the agent (default 10)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.number <= 0 || v.number > 3600)
         return "must be more than 0 and at most 3600, not " + std::to_string(v.number);
       slot.board->connect_timeout = v.number;
       return std::string();
     }},
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

std::span<const ConfigKey> config_keys() { return kConfigKeys; }

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
