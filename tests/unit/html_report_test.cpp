// The HTML report's embedding and the baseline comparison. What a person sees
// in a browser is checked by the browser tests; these are the rules below it.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

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
  EXPECT_NE(
      page.find("\"hc\":" + std::to_string(100000 - HtmlReportWriter::kPassedHead - HtmlReportWriter::kPassedTail)),
      std::string::npos);
  EXPECT_EQ(page.find("\"hc\"", page.find("\"n\":\"F.f\"")), std::string::npos) << "the failing test kept all of it";
}

// 64 KiB of what a test log looks like: timestamps, counters and hex that
// differ on every line (deflate gets about a third of it off).
std::string log_output(unsigned seed) {
  std::string out;
  std::uint64_t x = seed * 2654435761u + 1;
  char line[128];
  while (out.size() < 65536) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const int n = std::snprintf(line, sizeof line, "[%10.6f] worker %u: step %u checksum 0x%08x %s\n",
                                double(x >> 40) / 1e6, unsigned(x >> 60), unsigned(x >> 20) & 0xfffff, unsigned(x >> 8),
                                (x & 16) ? "ok" : "retrying after a short wait");
    out.append(line, n);
  }
  out.resize(65536);
  return out;
}

nlohmann::json embedded_data(const std::string& page) {
  const auto start = page.find("id=\"xrun-data\">") + 15;
  return nlohmann::json::parse(page.substr(start, page.find("</script>", start) - start));
}

// The documented bound (docs/report-schema.md): 20,000 tests that printed
// 64 KiB each make a page under 40 MiB, and every failing test's output is
// in it whole; passed tests' outputs fill what is left of the budget.
TEST(HtmlReport, TwentyThousandTestsOf64KiBStayUnderTheSizeBound) {
  RunReport report;
  report.tests.reserve(20000);
  std::vector<std::string> outputs;
  for (unsigned i = 0; i < 16; ++i) outputs.push_back(log_output(i));
  for (int i = 0; i < 20000; ++i) {
    auto t = result("/build/tests/suite_" + std::to_string(i / 1000),
                    "Suite" + std::to_string(i % 97) + ".Case" + std::to_string(i),
                    i % 40 == 7 ? Status::Failed : Status::Passed);
    t.output = outputs[i % outputs.size()];
    if (t.status == Status::Failed) t.failure = "suite.cpp:42: Failure\nExpected equality of these values";
    report.tests.push_back(std::move(t));
  }
  const std::string page = to_html(report);
  EXPECT_LT(page.size(), 40u << 20);
  const auto data = embedded_data(page);
  ASSERT_EQ(data["tests"].size(), 20000u);
  std::size_t kept_outputs = 0, left_out = 0;
  for (const auto& t : data["tests"]) {
    if (t["s"] == "failed") {
      EXPECT_FALSE(t.contains("ob")) << t["n"] << ": a failing test lost its output to passed ones";
      EXPECT_EQ(t["o"]["n"], 65536) << t["n"];
    }
    if (t.contains("ob"))
      ++left_out;
    else
      kept_outputs += t["o"].dump().size();
  }
  EXPECT_LE(kept_outputs, HtmlReportWriter::kOutputBudget);
  EXPECT_GT(left_out, 0u) << "the budget did not bind: the test shows nothing";
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
  const std::vector<TestResult> now = {result("/new/deps/suite-fedcba9876543210", "A.broken", Status::TimedOut),
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
