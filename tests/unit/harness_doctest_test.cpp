// doctest's XML listing (recorded from 2.4.9) and its --dt-test-case= escaping.
#include "engine/harness_doctest.h"

#include <gtest/gtest.h>

using namespace xrun;

TEST(Doctest, ListingMarksSkippedCases) {
  // `--dt-list-test-cases --dt-reporters=xml --dt-no-skip`
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<doctest binary="doctest_tests" version="2.4.9">
  <Options order_by="file" rand_seed="0" first="0" last="4294967295" abort_after="0" subcase_filter_levels="2147483647" case_sensitive="false" no_throw="false" no_skip="true"/>
  <TestCase name="passes" filename="doctest_suite_test.cpp" line="13" skipped="false"/>
  <TestCase name="skipped" filename="doctest_suite_test.cpp" line="31" skipped="true"/>
  <TestCase name="in a suite" testsuite="a suite" filename="doctest_suite_test.cpp" line="45" skipped="false"/>
  <TestCase name="xml &lt;&amp;> &quot;special&quot;" filename="doctest_suite_test.cpp" line="50" skipped="false"/>
  <OverallResultsTestCases unskipped="3"/>
</doctest>
)";
  auto tests = parse_doctest_list("/b", xml);
  ASSERT_EQ(tests.size(), 4u);
  EXPECT_EQ(tests[0].name, "passes");
  EXPECT_EQ(tests[0].kind, TestKind::Doctest);
  EXPECT_FALSE(tests[0].skip_reason);
  EXPECT_EQ(tests[1].skip_reason, "skipped");
  EXPECT_EQ(tests[2].name, "in a suite");
  EXPECT_EQ(tests[3].name, "xml <&> \"special\"");
}

TEST(Doctest, FiltersEscapeCommasAndBackslashes) {
  EXPECT_EQ(doctest_filter("a, b\\c"), "a\\, b\\\\c");
  const auto args = doctest_arguments({"x", "y,z"});
  EXPECT_EQ(args.back(), "--dt-test-case=x,y\\,z");
  EXPECT_NE(std::find(args.begin(), args.end(), "--dt-case-sensitive=true"), args.end());
  EXPECT_TRUE(is_doctest_binary(std::string("..\0dt-test-case=\0", 17)));
  EXPECT_FALSE(is_doctest_binary("--gtest_list_tests"));
}
