#include "config_file.h"

#include <gtest/gtest.h>

// The fixture path is relative to the project root: CTest runs the test with
// WORKING_DIRECTORY set there, and xrun keeps the cwd.
TEST(Settings, ReadsTheFixture) {
  auto settings = read_settings("tests/data/device.conf");
  ASSERT_EQ(settings.size(), 2u);
  EXPECT_EQ(settings["baud"], "115200");
  EXPECT_EQ(settings["name"], "sensor node");
}
