#include "core/json_util.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

using namespace xrun;
using nlohmann::json;

namespace {

// What nlohmann's throwing form says, for comparison: the library's
// non-throwing forms must keep the messages users saw.
template <class F>
std::string thrown(F&& f) {
  try {
    f();
  } catch (const json::exception& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace

TEST(ParseJson, GivesTheDocumentOrNlohmannsMessage) {
  auto ok = parse_json(R"({"a": [1, 2.5, "x"]})", ExitCode::Usage);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ((*ok)["a"][2], "x");
  for (const char* bad : {"", "{", "x", "[1,]", "{} trailing", "1e999", "\"\\ud800\"", "[1] [2]"}) {
    auto parsed = parse_json(bad, ExitCode::InfraError);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ExitCode::InfraError);
    EXPECT_EQ(parsed.error().message, thrown([&] { const json parsed_doc = json::parse(bad); })) << bad;
  }
}

TEST(JsonValue, IsNlohmannsValueWithItsExceptionsAsErrors) {
  const json object = json::parse(R"({"s": "text", "n": 3, "b": true, "f": 2.5, "a": []})");
  EXPECT_EQ(*json_value<std::string>(object, "s", ""), "text");
  EXPECT_EQ(*json_value<std::string>(object, "absent", "fallback"), "fallback");
  EXPECT_EQ(*json_value<bool>(object, "b", false), true);
  EXPECT_EQ(*json_value<double>(object, "f", 0.0), 2.5);
  EXPECT_EQ(*json_value<double>(object, "n", 0.0), 3.0);
  EXPECT_EQ(*json_value<std::uint64_t>(object, "n", 0), 3u);
  const auto same_error = [&](auto ours, auto theirs) {
    ASSERT_FALSE(ours);
    EXPECT_EQ(ours.error().message, thrown(theirs));
  };
  same_error(json_value<std::string>(object, "n", ""), [&] { (void)object.value("n", ""); });
  same_error(json_value<bool>(object, "s", false), [&] { (void)object.value("s", false); });
  same_error(json_value<double>(object, "a", 0.0), [&] { (void)object.value("a", 0.0); });
  same_error(json_value<double>(object, "b", 0.0), [&] { (void)object.value("b", 0.0); });
  same_error(json_value<std::uint64_t>(object, "s", 0), [&] { (void)object.value("s", std::uint64_t{0}); });
  const json number = 3;
  same_error(json_value<std::string>(number, "s", ""), [&] { (void)number.value("s", ""); });
  same_error(json_at(number, "s"), [&] { (void)number.at("s"); });
  same_error(json_at(object, "absent"), [&] { (void)object.at("absent"); });
  same_error(json_get<std::string>(object["n"]), [&] { (void)object["n"].get<std::string>(); });
  ASSERT_TRUE(json_at(object, "s"));
  EXPECT_EQ(**json_at(object, "s"), "text");
  EXPECT_EQ(json_member(number, "s"), nullptr);
}
