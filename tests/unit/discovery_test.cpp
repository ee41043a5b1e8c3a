#include "engine/discovery.h"

#include <gtest/gtest.h>

#include "support/paths.h"
#include "support/temp_dir.h"

using namespace xrun;

TEST(Discovery, DetectsTheKindFromTheBinary) {
  EXPECT_EQ(*detect_kind(XRUN_GTEST_SAMPLE), TestKind::GTest);
  EXPECT_EQ(*detect_kind(xrun::testing::helper("aarch64", "dynamic")), TestKind::Plain);
  EXPECT_FALSE(detect_kind("/nonexistent/binary"));
}

TEST(Discovery, ParsesGTestListingsWithTypedParameterizedAndDisabledTests) {
  const char* listing =
      "Running main() from gtest_main.cc\n"
      "Pass.\n  Simple\n"
      "Disabled.\n  DISABLED_Never\n"
      "DISABLED_Suite.\n  Never\n"
      "Typed/0.  # TypeParam = int\n  Zero\n"
      "Values/Param.\n  Positive/0  # GetParam() = 1\n";
  auto tests = parse_gtest_list("/b", listing);
  ASSERT_EQ(tests.size(), 5u);
  EXPECT_EQ(tests[0].name, "Pass.Simple");
  EXPECT_FALSE(tests[0].skip_reason);
  EXPECT_EQ(tests[1].skip_reason, "disabled");
  EXPECT_EQ(tests[2].skip_reason, "disabled");
  EXPECT_EQ(tests[3].name, "Typed/0.Zero");
  EXPECT_EQ(tests[4].name, "Values/Param.Positive/0");
  EXPECT_EQ(tests[4].kind, TestKind::GTest);
}

TEST(Discovery, ParsesLibtestListingsAndMarksIgnored) {
  auto tests = parse_libtest_list("/b", "a::one: test\na::two: test\nbench_x: benchmark\n\n2 tests, 1 benchmark\n",
                                  "a::two: test\n");
  ASSERT_EQ(tests.size(), 2u);
  EXPECT_EQ(tests[0].name, "a::one");
  EXPECT_FALSE(tests[0].skip_reason);
  EXPECT_EQ(tests[1].skip_reason, "ignored");
}

TEST(Discovery, CacheRoundTripsAndIsKeyedByContent) {
  xrun::testing::TempDir dir;
  ListingCache cache(dir.path() + "/cache");
  const std::string binary = dir.write("bin", "content one");
  std::vector<TestCase> tests = parse_gtest_list(binary, "S.\n  a\n  DISABLED_b\n");
  EXPECT_FALSE(cache.load(binary, TestKind::GTest));
  cache.store(binary, TestKind::GTest, tests);
  auto loaded = cache.load(binary, TestKind::GTest);
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[1].name, "S.DISABLED_b");
  EXPECT_EQ((*loaded)[1].skip_reason, "disabled");
  dir.write("bin", "content two");  // rebuilt binary: the listing is stale
  EXPECT_FALSE(cache.load(binary, TestKind::GTest));
}
