// The backend registry: its rows are whole, the names a user may choose are
// the choosable rows', and every row is where a user looks: `xrun --help`,
// `xrun test --help`, `xrun doctor` and the README's table of backends.
#include "backends/registry.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <set>

#include "engine/job_runner.h"
#include "support/paths.h"
#include "support/subprocess.h"
#include "support/temp_dir.h"

using namespace xrun;

namespace {

TEST(Registry, EveryRowIsWhole) {
  std::set<std::string_view> names;
  int hosts = 0;
  for (const Backend* row : backends()) {
    SCOPED_TRACE(row->name);
    EXPECT_FALSE(row->name.empty());
    EXPECT_TRUE(names.insert(row->name).second) << "two rows named " << row->name;
    EXPECT_FALSE(row->help.empty());
    EXPECT_FALSE(row->formats.empty());
    EXPECT_NE(row->runs, nullptr);
    EXPECT_NE(row->make_runner, nullptr);
    for (const auto& flag : row->flags) {
      EXPECT_EQ(flag.name.substr(0, 2), "--");
      EXPECT_FALSE(flag.help.empty());
    }
    for (const auto& command : row->commands) {
      EXPECT_EQ(command.usage.substr(0, command.name.size() + 1), std::string(command.name) + " ");
      EXPECT_FALSE(command.help.empty());
      EXPECT_NE(command.run, nullptr);
    }
    hosts += row->choosable ? 0 : 1;
    EXPECT_EQ(find_backend(row->name), row);
    EXPECT_EQ(parse_backend(row->name), row->choosable ? row : nullptr);
  }
  EXPECT_EQ(hosts, 1) << "one row takes what the host runs itself";
  EXPECT_FALSE(host_backend().choosable);
  EXPECT_TRUE(default_backend(BinaryFormat::Elf)->choosable);
  EXPECT_EQ(default_backend(BinaryFormat::Pe), nullptr) << "no row runs Windows programs yet";
  EXPECT_EQ(default_backend(BinaryFormat::Wasm), nullptr) << "no row runs WebAssembly modules yet";
}

TEST(Registry, TheChoicesAreTheChoosableRowsInOrder) {
  EXPECT_EQ(backend_names(), (std::vector<std::string>{"qemu-user", "system", "board"}));
  EXPECT_EQ(backend_choices(), "\"qemu-user\", \"system\" or \"board\"");
  EXPECT_EQ(parse_backend("native"), nullptr) << "the host's row is never chosen";
  EXPECT_EQ(parse_backend("vm"), nullptr);
  EXPECT_EQ(find_backend("native"), &host_backend());
}

// The names in the README's table of backends (the rows under its
// "| backend |" header), in order.
std::vector<std::string> readme_backends() {
  std::ifstream readme(std::string(XRUN_SOURCE_DIR) + "/README.md");
  std::vector<std::string> names;
  bool in_table = false;
  for (std::string line; std::getline(readme, line);) {
    if (line.rfind("| backend |", 0) == 0) {
      in_table = true;
    } else if (in_table && line.rfind("| `", 0) == 0) {
      names.push_back(line.substr(3, line.find('`', 3) - 3));
    } else if (in_table && line.rfind("|---", 0) != 0) {
      break;
    }
  }
  return names;
}

std::string upper(std::string_view text) {
  std::string out;
  for (char c : text) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

TEST(Registry, EveryRowIsInTheHelpInDoctorAndInTheReadme) {
  using xrun::testing::describe;
  using xrun::testing::run;
  using xrun::testing::xrun_binary;
  const auto help = run({xrun_binary(), "--help"});
  ASSERT_EQ(help.exit_code, 0) << describe(help);
  const auto test_help = run({xrun_binary(), "test", "--help"});
  ASSERT_EQ(test_help.exit_code, 0) << describe(test_help);
  // In a directory of its own: no project's xrun.toml adds to what it says.
  xrun::testing::TempDir dir;
  const auto doctor = run({xrun_binary(), "doctor"}, {.cwd = dir.path()});
  ASSERT_TRUE(doctor.exited) << describe(doctor);
  std::vector<std::string> names;
  for (const Backend* row : backends()) {
    SCOPED_TRACE(row->name);
    names.emplace_back(row->name);
    // `xrun --help`: a line "  NAME  [(default) ]HELP" in its list of backends.
    const std::string line = std::string(row->name) + std::string(12 - row->name.size(), ' ') +
                             (row->is_default ? "(default) " : "") + std::string(row->help) + "\n";
    EXPECT_NE(help.out.find("\n  " + line), std::string::npos) << help.out;
    for (const auto& flag : row->flags) {
      EXPECT_NE(help.out.find("\n  " + std::string(flag.name) + " "), std::string::npos) << help.out;
      EXPECT_NE(test_help.out.find(std::string(flag.name)), std::string::npos) << test_help.out;
    }
    if (row->choosable) {
      EXPECT_NE(test_help.out.find(std::string(row->name)), std::string::npos) << test_help.out;
    }
    // Its subcommands: a line each in `xrun --help`, and `xrun NAME --help` is theirs.
    for (const auto& command : row->commands) {
      EXPECT_NE(help.out.find("\n  xrun " + std::string(command.usage) + " "), std::string::npos) << help.out;
      const auto own_help = run({xrun_binary(), std::string(command.name), "--help"}, {.cwd = dir.path()});
      EXPECT_EQ(own_help.exit_code, 0) << describe(own_help);
      EXPECT_NE(own_help.out.find("xrun " + std::string(command.name)), std::string::npos) << own_help.out;
    }
    // `xrun doctor`: a section whose heading starts with the name.
    EXPECT_NE(doctor.out.find("\n\n" + upper(row->name)), std::string::npos) << doctor.out;
  }
  // The README's table: the same rows, in the same order.
  EXPECT_EQ(readme_backends(), names);
}

}  // namespace
