#include "core/suggest.h"

#include <gtest/gtest.h>

using namespace xrun;

TEST(Suggest, EditDistanceCountsSwapsAsOne) {
  EXPECT_EQ(edit_distance("ssh_prot", "ssh_port"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("sysroot", "sysroot"), 0u);
}

TEST(Suggest, SuggestsOnlyPlausibleTypos) {
  const std::vector<std::string> keys = {"sysroot", "qemu", "cpu", "qemu_args", "env"};
  EXPECT_EQ(closest_match("sysrot", keys), "sysroot");
  EXPECT_EQ(closest_match("qemu_arg", keys), "qemu_args");
  EXPECT_EQ(closest_match("timeout", keys), std::nullopt);
  EXPECT_EQ(did_you_mean("cpus", keys), ", did you mean \"cpu\"?");
  EXPECT_EQ(did_you_mean("zzzzzz", keys), "");
}
