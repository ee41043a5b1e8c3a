// A real GoogleTest suite cross-built for aarch64 (dynamic, libstdc++ and
// threads) runs to completion through xrun, and its verdict comes through.
#include <gtest/gtest.h>

#include "e2e/xrun_runner.h"

namespace xrun::testing {
namespace {

TEST(GTestBinary, PassingSuiteExitsZero) {
  auto r = run_xrun({XRUN_GTEST_SAMPLE}, {.timeout_seconds = 120});
  ASSERT_FALSE(r.timed_out) << describe(r);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("[  PASSED  ] 6 tests."), std::string::npos) << r.out;
}

TEST(GTestBinary, FailureComesThroughAsStatusOne) {
  RunOptions options;
  options.env = environment_with({"SAMPLE_FAIL=1"});
  auto r = run_xrun({XRUN_GTEST_SAMPLE, "--gtest_filter=Environment.*"}, options);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.out.find("[  FAILED  ] Environment.OptionalFailure"), std::string::npos) << r.out;
}

TEST(GTestBinary, ListingWorks) {
  auto r = run_xrun({XRUN_GTEST_SAMPLE, "--gtest_list_tests"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Range/Squares.\n  NonNegative/0"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace xrun::testing
