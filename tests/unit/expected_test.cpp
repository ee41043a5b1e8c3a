#include "core/expected.h"

#include <gtest/gtest.h>

#include <string>
#include <type_traits>

using namespace xrun;

namespace {

Expected<void> fails_when(bool fail) {
  if (fail) return make_error(ExitCode::InfraError, "it failed");
  return {};
}

Expected<void> passes_on(bool fail) {
  auto step = fails_when(fail);
  if (!step) return step.error();
  return success();
}

}  // namespace

TEST(Expected, HoldsAValueOrAnError) {
  Expected<int> value = 7;
  ASSERT_TRUE(value);
  EXPECT_EQ(*value, 7);
  Expected<int> error = make_error(ExitCode::Usage, "bad");
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().code, ExitCode::Usage);
  EXPECT_EQ(error.error().message, "bad");
}

TEST(ExpectedVoid, SuccessCarriesNothing) {
  const Expected<void> ok;
  EXPECT_TRUE(ok);
  EXPECT_TRUE(ok.has_value());
  EXPECT_TRUE(success());
  EXPECT_TRUE(Expected<void>{});
  EXPECT_TRUE(fails_when(false));
  static_assert(std::is_void_v<decltype(ok.value())>);
}

TEST(ExpectedVoid, FailureCarriesItsError) {
  const Expected<void> failed = fails_when(true);
  ASSERT_FALSE(failed);
  EXPECT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ExitCode::InfraError);
  EXPECT_EQ(failed.error().message, "it failed");
}

TEST(ExpectedVoid, PassesAnErrorOnUnchanged) {
  EXPECT_TRUE(passes_on(false));
  const auto failed = passes_on(true);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "it failed");
  EXPECT_EQ(failed.error().code, ExitCode::InfraError);
}
