#include "config/config.h"

#include <gtest/gtest.h>

#include "backends/board/board_settings.h"
#include "backends/registry.h"
#include "backends/system/vm_config.h"
#include "support/temp_dir.h"

using namespace xrun;
using xrun::testing::TempDir;

namespace {

ConfigInputs inputs_in(const std::string& cwd) {
  ConfigInputs inputs;
  inputs.cwd = cwd;
  return inputs;
}

std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
}

TEST(Config, NoFilesMeansDefaults) {
  TempDir dir;
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_TRUE(config->files.empty());
  EXPECT_FALSE(config->target("aarch64").sysroot);
}

TEST(Config, ReadsEveryKeyAndResolvesRelativeSysroot) {
  TempDir dir;
  dir.write("xrun.toml", R"(
[targets.aarch64]
sysroot = "sysroots/arm64"
qemu = "/opt/qemu/bin/qemu-aarch64"
cpu = "cortex-a72"
qemu_args = ["-d", "unimp"]
env = { RUST_BACKTRACE = "1", LANG = "C" }
)");
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_TRUE(config) << config.error().message;
  const auto& t = config->target("aarch64");
  EXPECT_EQ(t.sysroot, dir.path() + "/sysroots/arm64");
  EXPECT_EQ(t.qemu, "/opt/qemu/bin/qemu-aarch64");
  EXPECT_EQ(t.cpu, "cortex-a72");
  EXPECT_EQ(t.qemu_args, (std::vector<std::string>{"-d", "unimp"}));
  EXPECT_EQ(t.env.at("RUST_BACKTRACE"), "1");
  EXPECT_EQ(config->files, std::vector<std::string>{dir.path() + "/xrun.toml"});
}

TEST(Config, TripleNamesItsTarget) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.aarch64-unknown-linux-gnu]\ncpu = \"a64fx\"\n");
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->target("aarch64").cpu, "a64fx");
}

TEST(Config, FoundFromASubdirectory) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.riscv64]\ncpu = \"rv64\"\n");
  dir.write("src/deep/.keep", "");
  auto config = load_config(inputs_in(dir.path() + "/src/deep"));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->target("riscv64").cpu, "rv64");
}

TEST(Config, UnknownKeySaysWhereAndSuggests) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.aarch64]\n  sysrot = \"/x\"\n");
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, ExitCode::Usage);
  EXPECT_EQ(config.error().message,
            dir.path() + "/xrun.toml:2:3: unknown key \"sysrot\" in [targets.aarch64], did you mean \"sysroot\"?");
}

TEST(Config, UnknownTargetAndSectionSuggest) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.aarch46]\ncpu = \"x\"\n[target.aarch64]\ncpu = \"y\"\n");
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_FALSE(config);
  const auto& message = config.error().message;
  EXPECT_NE(message.find("unknown target \"aarch46\", did you mean \"aarch64\"?"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown section \"target\", did you mean \"targets\"?"), std::string::npos) << message;
}

TEST(Config, WrongTypesAreReportedWithTheirPosition) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.armhf]\ncpu = 7\nqemu_args = \"-d\"\nenv = { A = 1 }\n");
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_FALSE(config);
  const auto& message = config.error().message;
  EXPECT_NE(message.find("xrun.toml:2:7: \"cpu\" must be a string, not an integer"), std::string::npos) << message;
  EXPECT_NE(message.find("xrun.toml:3:13: \"qemu_args\" must be an array of strings, not a string"), std::string::npos)
      << message;
  EXPECT_NE(message.find("env.A must be a string, not an integer"), std::string::npos) << message;
}

// What cannot reach a program as it is written (argv and the environment
// are C strings; a variable's name ends at its first '=') is an error with
// its position, not passed on cut short or renamed.
TEST(Config, ValuesNoProgramCouldGetAreErrors) {
  const auto error_of = [](const std::string& text) {
    TempDir dir;
    dir.write("xrun.toml", text);
    auto config = load_config(inputs_in(dir.path()));
    return config ? std::string("no error") : config.error().message;
  };
  std::string m = error_of("[targets.armhf]\ncpu = \"cortex\\u0000a7\"\nqemu_args = [\"-d\", \"in\\u0000asm\"]\n");
  EXPECT_NE(m.find("xrun.toml:2:7: \"cpu\" cannot hold a NUL character"), std::string::npos) << m;
  EXPECT_NE(m.find("xrun.toml:3:20: \"qemu_args\" cannot hold a NUL character"), std::string::npos) << m;
  m = error_of("[targets.armhf]\nenv = { \"A=B\" = \"1\" }\n");
  EXPECT_NE(m.find("xrun.toml:2:9: env.\"A=B\" is a name with '=' in it: not an environment variable"),
            std::string::npos)
      << m;
  m = error_of("[targets.armhf]\nenv = { \"\" = \"2\" }\n");
  EXPECT_NE(m.find("env.\"\" is an empty name"), std::string::npos) << m;
  m = error_of("[targets.armhf]\nenv = { OK = \"x\\u0000y\" }\n");
  EXPECT_NE(m.find("xrun.toml:2:14: env.OK cannot hold a NUL character"), std::string::npos) << m;
  m = error_of("[boards.pi]\nhost = \"pi\"\narch = \"aarch64\\n\"\n");
  EXPECT_NE(m.find("xrun.toml:3:8: \"arch\" must be a machine name as `uname -m` prints it"), std::string::npos) << m;
}

TEST(Config, VmKernelIsMinimalOrDebianInTheFileAndTheEnvironment) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.aarch64]\nvm_kernel = \"debian\"\n");
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(vm_config(config->target("aarch64")).vm_kernel, "debian");
  dir.write("xrun.toml", "[targets.aarch64]\nvm_kernel = \"tiny\"\n");
  config = load_config(inputs_in(dir.path()));
  ASSERT_FALSE(config);
  EXPECT_NE(
      config.error().message.find("xrun.toml:2:13: \"vm_kernel\" must be \"minimal\" or \"debian\", not \"tiny\""),
      std::string::npos)
      << config.error().message;
  TempDir no_file;
  auto inputs = inputs_in(no_file.path());
  inputs.environment = {{"XRUN_AARCH64_VM_KERNEL", "minimal"}};
  config = load_config(inputs);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(vm_config(config->target("aarch64")).vm_kernel, "minimal");
  inputs.environment = {{"XRUN_AARCH64_VM_KERNEL", "Debian"}};
  config = load_config(inputs);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message,
            "environment: XRUN_AARCH64_VM_KERNEL must be \"minimal\" or \"debian\", not \"Debian\"");
}

TEST(Config, AllErrorsAtOnce) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.aarch64]\nsysrot = 1\ncpus = \"a\"\n[targets.mips]\n[bogus]\n");
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_FALSE(config);
  EXPECT_EQ(line_count(config.error().message), 4u) << config.error().message;
}

TEST(Config, SyntaxErrorHasLineAndColumn) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.aarch64]\ncpu = \"unterminated\n");
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message.rfind(dir.path() + "/xrun.toml:2:", 0), 0u) << config.error().message;
}

TEST(Config, ProjectOverridesUserAndEnvironmentOverridesBoth) {
  TempDir dir;
  auto user = dir.write("user/config.toml", "[targets.aarch64]\ncpu = \"user\"\nqemu = \"user-qemu\"\n");
  dir.write("project/xrun.toml", "[targets.aarch64]\ncpu = \"project\"\n");
  auto inputs = inputs_in(dir.path() + "/project");
  inputs.user_file = user;
  auto config = load_config(inputs);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->target("aarch64").cpu, "project");
  EXPECT_EQ(config->target("aarch64").qemu, "user-qemu");
  inputs.environment = {{"XRUN_AARCH64_CPU", "env"}, {"XRUN_AARCH64_QEMU_ARGS", "-d  in_asm"}};
  config = load_config(inputs);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->target("aarch64").cpu, "env");
  EXPECT_EQ(config->target("aarch64").qemu_args, (std::vector<std::string>{"-d", "in_asm"}));
}

TEST(Config, EnvironmentTypoForATargetIsAnError) {
  TempDir dir;
  auto inputs = inputs_in(dir.path());
  inputs.environment = {{"XRUN_AARCH64_SYSRROT", "/x"}, {"XRUN_MY_PROGRAMS_OWN", "kept"}};
  auto config = load_config(inputs);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message,
            "environment: unknown variable XRUN_AARCH64_SYSRROT, did you mean \"XRUN_AARCH64_SYSROOT\"?");
}

TEST(Config, ExplicitFileMustExist) {
  TempDir dir;
  auto inputs = inputs_in(dir.path());
  inputs.explicit_file = dir.path() + "/nope.toml";
  auto config = load_config(inputs);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("nope.toml: configuration file not found"), std::string::npos);
}

}  // namespace

namespace {

TEST(ConfigTestSection, ReadsDefaultsAndChecksThem) {
  TempDir dir;
  dir.write("xrun.toml",
            "[test]\njobs = 4\ntimeout = 30\nretries = 1\nisolation = \"process\"\nfail_fast = true\n"
            "junit = \"out/junit.xml\"\n");
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->test.jobs, 4);
  EXPECT_EQ(config->test.timeout, 30.0);
  EXPECT_EQ(config->test.isolation, "process");
  EXPECT_EQ(config->test.fail_fast, true);
  EXPECT_EQ(config->test.junit, dir.path() + "/out/junit.xml");
  dir.write("xrun.toml", "[test]\njobs = 0\nisolation = \"thread\"\ntimout = 3\nretries = \"2\"\n");
  config = load_config(inputs_in(dir.path()));
  ASSERT_FALSE(config);
  const auto& m = config.error().message;
  EXPECT_NE(m.find("xrun.toml:2:8: \"jobs\" must be at least 1"), std::string::npos) << m;
  EXPECT_NE(m.find("\"isolation\" must be \"batch\" or \"process\", not \"thread\""), std::string::npos) << m;
  EXPECT_NE(m.find("unknown key \"timout\" in [test], did you mean \"timeout\"?"), std::string::npos) << m;
  EXPECT_NE(m.find("\"retries\" must be an integer, not a string"), std::string::npos) << m;
}

TEST(ConfigTestSection, EnvironmentOverrides) {
  TempDir dir;
  auto inputs = inputs_in(dir.path());
  inputs.environment = {{"XRUN_TEST_JOBS", "3"}, {"XRUN_TEST_ISOLATION", "process"}, {"XRUN_TEST_FAIL_FAST", "1"}};
  auto config = load_config(inputs);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->test.jobs, 3);
  EXPECT_EQ(config->test.isolation, "process");
  EXPECT_EQ(config->test.fail_fast, true);
  inputs.environment = {{"XRUN_TEST_JOBS", "many"}, {"XRUN_TEST_TIMEOT", "3"}};
  config = load_config(inputs);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("XRUN_TEST_JOBS must be an integer, not \"many\""), std::string::npos);
  EXPECT_NE(config.error().message.find("did you mean \"XRUN_TEST_TIMEOUT\""), std::string::npos);
}

}  // namespace

namespace {

// Every key is a row with its own check, read the same way from a file
// (with file:line) and from the environment.
TEST(ConfigRows, VmMemoryIsCheckedWhereItIsWritten) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.aarch64]\nvm_memory = 256\n");
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(vm_config(config->target("aarch64")).vm_memory, 256);
  dir.write("xrun.toml", "[targets.aarch64]\nvm_memory = 16\n");
  config = load_config(inputs_in(dir.path()));
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message,
            dir.path() + "/xrun.toml:2:13: \"vm_memory\" must be a number of MiB from 32, not 16");
  TempDir no_file;
  auto inputs = inputs_in(no_file.path());
  inputs.environment = {{"XRUN_AARCH64_VM_MEMORY", "lots"}};
  config = load_config(inputs);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message, "environment: XRUN_AARCH64_VM_MEMORY must be an integer, not \"lots\"");
}

TEST(ConfigRows, TheBackendIsOneValueFromFileAndEnvironment) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.aarch64]\nbackend = \"system\"\n[targets.armhf]\nbackend = \"qemu-user\"\n");
  auto inputs = inputs_in(dir.path());
  inputs.environment = {{"XRUN_RISCV64_BACKEND", "system"}};
  auto config = load_config(inputs);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->target("aarch64").backend, find_backend("system"));
  EXPECT_EQ(config->target("armhf").backend, find_backend("qemu-user"));
  EXPECT_EQ(config->target("riscv64").backend, find_backend("system"));
  EXPECT_NE(find_backend("system"), nullptr);
  inputs.environment = {{"XRUN_AARCH64_BACKEND", "qemu-system"}};
  config = load_config(inputs);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message,
            "environment: XRUN_AARCH64_BACKEND must be \"qemu-user\", \"system\" or \"board\", not \"qemu-system\"");
}

TEST(ConfigRows, TestGroupsWithTheirPatternsAndLimit) {
  TempDir dir;
  dir.write("xrun.toml",
            "[groups.serial]\nbinaries = [\"posix-mock-test\"]\nmax_jobs = 1\n"
            "[groups.two-at-a-time]\nfilter = [\"Db.*\", \"Net.*\"]\nmax_jobs = 2\n");
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_EQ(config->groups.size(), 2u);
  EXPECT_EQ(config->groups.at("serial").binaries, std::vector<std::string>{"posix-mock-test"});
  EXPECT_TRUE(config->groups.at("serial").filter.empty());
  EXPECT_EQ(config->groups.at("two-at-a-time").max_jobs, 2);
  EXPECT_EQ(config->groups.at("two-at-a-time").filter, (std::vector<std::string>{"Db.*", "Net.*"}));

  dir.write("xrun.toml", "[groups.bad]\nmax_jobs = 0\nfiltr = [\"x\"]\n[groups.empty]\nmax_jobs = 1\n");
  config = load_config(inputs_in(dir.path()));
  ASSERT_FALSE(config);
  const auto& m = config.error().message;
  EXPECT_NE(m.find("xrun.toml:2:12: \"max_jobs\" must be at least 1, not 0"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown key \"filtr\" in [groups.bad], did you mean \"filter\"?"), std::string::npos) << m;
  EXPECT_NE(m.find("group \"empty\" has neither \"filter\" nor \"binaries\""), std::string::npos) << m;
}

}  // namespace

namespace {

// A timeout that would overflow the timers (every test timing out at once)
// is refused where it is written; so is a log level that would silently
// turn the trace off.
TEST(ConfigRows, SecondsAreFiniteAndAtMostAWeek) {
  TempDir dir;
  for (const char* value : {"inf", "1e10", "nan", "-1"}) {
    dir.write("xrun.toml", std::string("[test]\ntimeout = ") + value + "\n");
    auto config = load_config(inputs_in(dir.path()));
    ASSERT_FALSE(config) << value;
    EXPECT_NE(config.error().message.find(
                  "xrun.toml:2:11: \"timeout\" must be a number of seconds above 0 and at most 604800"),
              std::string::npos)
        << config.error().message;
  }
  TempDir no_file;
  auto inputs = inputs_in(no_file.path());
  inputs.environment = {{"XRUN_TEST_TIMEOUT", "inf"}, {"XRUN_LOG", "verbose"}};
  auto config = load_config(inputs);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("environment: XRUN_TEST_TIMEOUT must be a number of seconds above 0"),
            std::string::npos)
      << config.error().message;
  EXPECT_NE(config.error().message.find(
                "environment: XRUN_LOG must be trace, debug, info, warn, error or off, not \"verbose\""),
            std::string::npos)
      << config.error().message;
  inputs.environment = {{"XRUN_TEST_TIMEOUT", "604800"}, {"XRUN_LOG", "debug"}};
  EXPECT_TRUE(load_config(inputs));
}

}  // namespace

// A backend's keys and sections come from its row (backends/<name>/row.cpp):
// the loader reads [boards.NAME] and checks a target's boards with the same
// messages as before they moved there.
TEST(ConfigRows, ABackendsSectionKeysAndChecksComeFromItsRow) {
  TempDir dir;
  dir.write("xrun.toml", R"([boards.pi]
prot = 22

[boards.ok]
host = "ok.local"
port = 2222

[targets.aarch64]
boards = ["ok", "pj"]
vm_memory = 64

[bords.x]
host = "y"
)");
  auto config = load_config(inputs_in(dir.path()));
  ASSERT_FALSE(config);
  const std::string& message = config.error().message;
  EXPECT_NE(message.find(":2:1: unknown key \"prot\" in [boards.pi], did you mean \"port\"?"), std::string::npos)
      << message;
  EXPECT_NE(message.find(":1:9: board \"pi\" has no \"host\" (what ssh connects to)"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown section \"bords\", did you mean \"boards\"?"), std::string::npos) << message;
  EXPECT_NE(message.find("targets.aarch64.boards: no board \"pj\" is defined ([boards.pj]), did you mean \"pi\"?"),
            std::string::npos)
      << message;
  dir.write("xrun.toml", "boards = 3\n");
  config = load_config(inputs_in(dir.path()));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("\"boards\" must be a table of boards, like [boards.pi4]"), std::string::npos)
      << config.error().message;
  dir.write("xrun.toml", "[boards.ok]\nhost = \"ok.local\"\nport = 2222\n[targets.aarch64]\nboards = [\"ok\"]\n");
  config = load_config(inputs_in(dir.path()));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(configured_boards(*config).at("ok").host, "ok.local");
  EXPECT_EQ(configured_boards(*config).at("ok").port, 2222);
  EXPECT_EQ(boards_of(config->target("aarch64")), std::vector<std::string>{"ok"});
  // A backend's target keys have their environment variables like any other.
  auto inputs = inputs_in(dir.path());
  inputs.environment = {{"XRUN_AARCH64_VM_MEMROY", "64"}};
  config = load_config(inputs);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("did you mean \"XRUN_AARCH64_VM_MEMORY\"?"), std::string::npos)
      << config.error().message;
}

namespace xrun {
namespace {

// A row keeps its settings in its own type (row_settings.h): read before
// any key set them, they are as they start; set, they stay with their
// owner, and a copy of the configuration has its own.
TEST(RowSettings, ARowsTypeIsMadeOnFirstUseAndCopiedWithItsOwner) {
  struct Own {
    int value = 7;
  };
  TargetSettings target;
  const TargetSettings& read_only = target;
  EXPECT_EQ(read_only.rows.get<Own>().value, 7);
  target.rows.get<Own>().value = 9;
  EXPECT_EQ(read_only.rows.get<Own>().value, 9);
  TargetSettings copy = target;
  copy.rows.get<Own>().value = 11;
  EXPECT_EQ(read_only.rows.get<Own>().value, 9);
  EXPECT_EQ(std::as_const(copy).rows.get<Own>().value, 11);
  // Another type is another value.
  EXPECT_TRUE(std::as_const(target).rows.get<VmConfig>().vm_cpu == std::nullopt);
}

}  // namespace
}  // namespace xrun
