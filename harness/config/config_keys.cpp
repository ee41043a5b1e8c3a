#include "config/config_keys.h"

#include <cctype>

namespace xrun {

namespace {

constexpr ConfigKey kConfigKeys[] = {
    {"targets.*", "sysroot", ValueType::String, "XRUN_*_SYSROOT",
     "directory holding the target's libc and loader: a Debian cross sysroot (/usr/<triple>) "
     "or a full target root filesystem"},
    {"targets.*", "qemu", ValueType::String, "XRUN_*_QEMU", "qemu-user binary to run the target's programs with"},
    {"targets.*", "cpu", ValueType::String, "XRUN_*_CPU", "CPU model passed to qemu as -cpu"},
    {"targets.*", "qemu_args", ValueType::StringArray, "XRUN_*_QEMU_ARGS",
     "extra qemu-user arguments (environment form: separated by spaces)"},
    {"targets.*", "env", ValueType::StringTable, "",
     "environment variables set for the program, on top of the inherited environment"},
    {"targets.*", "backend", ValueType::String, "XRUN_*_BACKEND",
     "\"qemu-user\" (default) or \"system\": run programs in a booted VM (xrun image build)"},
    {"targets.*", "vm_kernel", ValueType::String, "XRUN_*_VM_KERNEL",
     "system mode: \"minimal\" (default where offered: built from Debian's linux-source) or \"debian\" (its kernel package)"},
    {"targets.*", "kernel", ValueType::String, "XRUN_*_KERNEL", "system mode: kernel image instead of Debian's"},
    {"targets.*", "modules", ValueType::String, "XRUN_*_MODULES",
     "system mode: lib/modules/<release> directory matching \"kernel\""},
    {"targets.*", "rootfs", ValueType::String, "XRUN_*_ROOTFS",
     "system mode: directory tree added to the VM's root filesystem"},
    {"targets.*", "vm_cpu", ValueType::String, "XRUN_*_VM_CPU", "system mode: qemu-system -cpu model"},
    {"targets.*", "vm_memory", ValueType::String, "XRUN_*_VM_MEMORY", "system mode: guest memory in MiB (default 128)"},
    {"targets.*", "vm_append", ValueType::String, "XRUN_*_VM_APPEND", "system mode: more kernel command line"},
    {"targets.*", "shares", ValueType::StringArray, "",
     "system mode: more host directories shown in the VM at the same path"},
    {"test", "jobs", ValueType::Integer, "XRUN_TEST_JOBS", "tests run at once (default: number of cores)"},
    {"test", "timeout", ValueType::Number, "XRUN_TEST_TIMEOUT", "seconds a test may run before it is stopped"},
    {"test", "grace", ValueType::Number, "XRUN_TEST_GRACE", "seconds between SIGTERM and SIGKILL on a timeout (default 2)"},
    {"test", "retries", ValueType::Integer, "XRUN_TEST_RETRIES", "re-runs of a failing test; passing on one makes it flaky"},
    {"test", "isolation", ValueType::String, "XRUN_TEST_ISOLATION", "\"batch\" (default) or \"process\""},
    {"test", "fail_fast", ValueType::Boolean, "XRUN_TEST_FAIL_FAST", "stop at the first failing test"},
    {"test", "junit", ValueType::String, "XRUN_TEST_JUNIT", "JUnit XML report path"},
    {"test", "json", ValueType::String, "XRUN_TEST_JSON", "JSON report path"},
};

constexpr EnvVariable kGlobalEnv[] = {
    {"XRUN_CONFIG", "configuration file to use instead of the nearest xrun.toml"},
    {"XRUN_LOG", "debug trace level: trace, debug, info, warn, error or off"},
};

}  // namespace

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::String: return "a string";
    case ValueType::StringArray: return "an array of strings";
    case ValueType::StringTable: return "a table of strings";
    case ValueType::Integer: return "an integer";
    case ValueType::Number: return "a number";
    case ValueType::Boolean: return "a boolean";
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
    if (c == '*') out += upper;
    else out += c;
  }
  return out;
}

}  // namespace xrun
