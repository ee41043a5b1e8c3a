// The HTML report's embedding and the baseline comparison. What a person sees
// in a browser is checked by the browser tests; these are the rules below it.
#include <gtest/gtest.h>

#include "report/baseline.h"
#include "report/html.h"

namespace xrun {
namespace {

TestResult result(const std::string& binary, const std::string& name, Status status, double seconds = 0.01) {
  TestResult t{binary, name, status};
  t.duration_seconds = seconds;
  return t;
}

// No output can end the data's <script> element or become markup.
TEST(HtmlReport, HostileOutputNeverLeavesTheDataElement) {
  RunReport report;
  auto t = result("/b/suite", "Hostile.</script><b>", Status::Failed);
  static constexpr char kHostile[] = "</script><script>alert(1)</script><!-- \x1b[31m\0\xff";
  t.output = std::string(kHostile, sizeof kHostile - 1);
  report.tests.push_back(t);
  const std::string page = to_html(report);
  const auto data = page.find("id=\"xrun-data\">");
  ASSERT_NE(data, std::string::npos);
  const auto end = page.find("</script>", data);
  ASSERT_NE(end, std::string::npos);
  const std::string embedded = page.substr(data, end - data);
  EXPECT_EQ(embedded.find("<", 1), std::string::npos) << embedded;
  EXPECT_NE(embedded.find("\\u003c/script>\\u003cscript>alert(1)"), std::string::npos) << embedded;
}

// A passed test's long output is shortened; a failing one's is kept whole.
TEST(HtmlReport, OnlyPassedTestsLoseTheMiddleOfTheirOutput) {
  RunReport report;
  auto passed = result("/b/suite", "P.p", Status::Passed);
  passed.output = std::string(100000, 'p');
  auto failed = result("/b/suite", "F.f", Status::Failed);
  failed.output = std::string(100000, 'f');
  report.tests = {passed, failed};
  const std::string page = to_html(report);
  EXPECT_NE(page.find("\"hc\":" + std::to_string(100000 - HtmlReportWriter::kPassedHead - HtmlReportWriter::kPassedTail)),
            std::string::npos);
  EXPECT_EQ(page.find("\"hc\"", page.find("\"n\":\"F.f\"")), std::string::npos) << "the failing test kept all of it";
}

TEST(HtmlReport, Base64IsStandard) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Baseline, CargoHashesAndDirectoriesDoNotMakeTestsNew) {
  EXPECT_EQ(comparable_binary_name("/a/target/debug/deps/parser-3f2a9c1b0d4e5f60"), "parser");
  EXPECT_EQ(comparable_binary_name("/x/ringbuf-tests"), "ringbuf-tests");
}

TEST(Baseline, EachChangeIsInItsSection) {
  RunReport before;
  before.tests = {result("/old/deps/suite-0123456789abcdef", "A.broken", Status::Passed),
                  result("/old/deps/suite-0123456789abcdef", "A.fixed", Status::Crashed),
                  result("/old/deps/suite-0123456789abcdef", "A.still", Status::Failed),
                  result("/old/deps/suite-0123456789abcdef", "A.gone", Status::Passed),
                  result("/old/deps/suite-0123456789abcdef", "A.slow", Status::Passed, 1.0),
                  result("/old/deps/suite-0123456789abcdef", "A.noisy", Status::Passed, 0.01)};
  const std::vector<TestResult> now = {
      result("/new/deps/suite-fedcba9876543210", "A.broken", Status::TimedOut),
      result("/new/deps/suite-fedcba9876543210", "A.fixed", Status::Passed),
      result("/new/deps/suite-fedcba9876543210", "A.still", Status::Failed),
      result("/new/deps/suite-fedcba9876543210", "A.new", Status::Passed),
      result("/new/deps/suite-fedcba9876543210", "A.slow", Status::Passed, 2.0),
      result("/new/deps/suite-fedcba9876543210", "A.noisy", Status::Passed, 0.05)};
  const auto c = compare_with_baseline(now, before, "prev.json", SlowdownRule{});
  const auto names = [](const std::vector<ComparedTest>& tests) {
    std::vector<std::string> out;
    for (const auto& t : tests) out.push_back(t.name);
    return out;
  };
  EXPECT_EQ(names(c.new_failures), std::vector<std::string>{"A.broken"});
  EXPECT_EQ(names(c.fixed), std::vector<std::string>{"A.fixed"});
  EXPECT_EQ(names(c.still_failing), std::vector<std::string>{"A.still"});
  EXPECT_EQ(names(c.new_tests), std::vector<std::string>{"A.new"});
  EXPECT_EQ(names(c.removed_tests), std::vector<std::string>{"A.gone"});
  EXPECT_EQ(names(c.slower), std::vector<std::string>{"A.slow"}) << "5x of 10 ms is under the 0.1 s floor";
  EXPECT_EQ(c.new_failures[0].before, "passed");
  EXPECT_EQ(c.new_failures[0].status, "timed-out");
}

}  // namespace
}  // namespace xrun
