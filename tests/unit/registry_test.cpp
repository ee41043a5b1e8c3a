// The backend registry: its rows are whole, and the names a user may choose
// are the choosable rows'.
#include "backends/registry.h"

#include <gtest/gtest.h>

#include <set>

#include "engine/job_runner.h"

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
    hosts += row->choosable ? 0 : 1;
    EXPECT_EQ(find_backend(row->name), row);
    EXPECT_EQ(parse_backend(row->name), row->choosable ? row : nullptr);
  }
  EXPECT_EQ(hosts, 1) << "one row takes what the host runs itself";
  EXPECT_FALSE(host_backend().choosable);
  EXPECT_TRUE(default_backend(BinaryFormat::Elf).choosable);
}

TEST(Registry, TheChoicesAreTheChoosableRowsInOrder) {
  EXPECT_EQ(backend_names(), (std::vector<std::string>{"qemu-user", "system", "board"}));
  EXPECT_EQ(backend_choices(), "\"qemu-user\", \"system\" or \"board\"");
  EXPECT_EQ(parse_backend("native"), nullptr) << "the host's row is never chosen";
  EXPECT_EQ(parse_backend("vm"), nullptr);
  EXPECT_EQ(find_backend("native"), &host_backend());
}

}  // namespace
