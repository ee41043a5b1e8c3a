// Catch2's listings (v2 recorded from 2.13.10; v3's XML from its reporter's
// documented format) and the test specs that must name exactly one case.
#include "engine/harness_catch2.h"

#include <gtest/gtest.h>

using namespace xrun;

TEST(Catch2, V2ListingMarksHiddenCases) {
  // `--list-test-names-only "*"` and `--list-test-names-only "[.]"`
  const std::string all = "passes\nfails\nhangs\nhidden by !hide\nname, with a comma\n\"#quoted\"\n*star first\n";
  const std::string hidden = "hangs\nhidden by !hide\n";
  auto tests = parse_catch2_list("/b", {all, hidden});
  ASSERT_EQ(tests.size(), 7u);
  EXPECT_EQ(tests[0].name, "passes");
  EXPECT_EQ(tests[0].kind, TestKind::Catch2);
  EXPECT_FALSE(tests[0].skip_reason);
  EXPECT_EQ(tests[2].skip_reason, "hidden");
  EXPECT_EQ(tests[3].skip_reason, "hidden");
  EXPECT_EQ(tests[4].name, "name, with a comma");
  EXPECT_EQ(tests[5].name, "#quoted") << "v2 quotes names that start with '#'";
  EXPECT_EQ(tests[6].name, "*star first");
}

TEST(Catch2, V3XmlListing) {
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<MatchingTests>
  <TestCase>
    <Name>a &lt;&amp;> b</Name>
    <ClassName/>
    <Tags>[fast]</Tags>
    <SourceInfo>
      <File>t.cpp</File>
      <Line>3</Line>
    </SourceInfo>
  </TestCase>
  <TestCase>
    <Name>hidden, with a comma</Name>
    <ClassName/>
    <Tags>[.][slow]</Tags>
    <SourceInfo>
      <File>t.cpp</File>
      <Line>9</Line>
    </SourceInfo>
  </TestCase>
</MatchingTests>
)";
  auto tests = parse_catch2_list("/b", {xml});
  ASSERT_EQ(tests.size(), 2u);
  EXPECT_EQ(tests[0].name, "a <&> b");
  EXPECT_FALSE(tests[0].skip_reason);
  EXPECT_EQ(tests[1].name, "hidden, with a comma");
  EXPECT_EQ(tests[1].skip_reason, "hidden");
}

TEST(Catch2, TestSpecsEscapeWhatTheParserWouldRead) {
  EXPECT_EQ(catch2_test_spec("plain name"), "plain name");
  EXPECT_EQ(catch2_test_spec("a, b"), "a\\, b");
  EXPECT_EQ(catch2_test_spec("n [with] b"), "n \\[with\\] b");
  EXPECT_EQ(catch2_test_spec("back\\slash \"q\""), "back\\\\slash \\\"q\\\"");
  EXPECT_EQ(catch2_test_spec("~tilde"), "\\~tilde");
  EXPECT_EQ(catch2_test_spec(" lead"), "\\ lead");
  EXPECT_EQ(catch2_arguments({"a", "b,c"}),
            (std::vector<std::string>{"--reporter", "xml", "--order", "decl", "a,b\\,c"}));
}

TEST(Catch2, DetectsV2AndV3FromTheirStrings) {
  EXPECT_TRUE(is_catch2_binary(std::string("..\0--list-test-names-only\0..", 28)));
  EXPECT_FALSE(is_catch2_v3_binary("--list-test-names-only Catch2TestRun"));
  EXPECT_TRUE(is_catch2_v3_binary("xx Catch2TestRun xx"));
  EXPECT_FALSE(is_catch2_binary("--gtest_list_tests"));
}
