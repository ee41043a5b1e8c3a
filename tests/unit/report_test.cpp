#include <gtest/gtest.h>

#include "report/junit.h"
#include "report/report.h"

using namespace xrun;

namespace {

RunReport sample() {
  RunReport report;
  report.started_at = "2026-11-22T10:00:00Z";
  report.duration_seconds = 1.5;
  TestResult crashed{"/build/suite", "Crash.Segfault", Status::Crashed};
  crashed.signal = 11;
  crashed.message = "SIGSEGV (signal 11)";
  crashed.output = "before\n";
  crashed.attempts = 1;
  TestResult passed{"/build/suite", "Pass.Simple", Status::Passed};
  passed.exit_code = 0;
  TestResult flaky{"/build/rust", "tests::flaky", Status::Flaky};
  flaky.attempts = 2;
  TestResult infra{"/build/rust", "tests::infra", Status::InfraError};
  infra.message = "qemu-aarch64 not found";
  TestResult skipped{"/build/suite", "Disabled.DISABLED_x", Status::Skipped};
  skipped.message = "disabled";
  report.tests = {crashed, passed, flaky, infra, skipped};
  return report;
}

TEST(JsonReport, RoundTrips) {
  RunReport report = sample();
  report.tests[0].output = "bytes \xff\xfe are replaced, text \xc3\xa9 kept";
  auto back = report_from_json(to_json(report), "r.json");
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->tests.size(), 5u);
  EXPECT_EQ(back->tests[0].status, Status::Crashed);
  EXPECT_EQ(back->tests[0].signal, 11);
  EXPECT_EQ(back->tests[0].output, "bytes \xEF\xBF\xBD\xEF\xBF\xBD are replaced, text \xc3\xa9 kept");
  EXPECT_EQ(back->tests[1].exit_code, 0);
  EXPECT_EQ(back->tests[2].attempts, 2);
  EXPECT_EQ(back->started_at, "2026-11-22T10:00:00Z");
  const std::string json = to_json(report);
  EXPECT_NE(json.find("\"signal_name\": \"SIGSEGV\""), std::string::npos);
  EXPECT_NE(json.find("\"schema\": \"xrun-test-report/1\""), std::string::npos);
  EXPECT_NE(json.find("\"crashed\": 1"), std::string::npos);
}

TEST(JsonReport, RejectsWhatIsNotAReport) {
  EXPECT_FALSE(report_from_json("{", "x.json"));
  EXPECT_FALSE(report_from_json("{\"schema\": \"other\"}", "x.json"));
  auto bad = report_from_json(R"({"schema":"xrun-test-report/1","tests":[{"binary":"b","name":"n","status":"weird"}]})", "x.json");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("unknown status"), std::string::npos);
}

TEST(Junit, EscapesEverythingXml10Forbids) {
  const std::string hostile = "\x1b[31mred\x1b[0m ]]> <a> & \"q\" 'a' \x01\x02\x07 \xff ok \xef\xbf\xbf end\r";
  const std::string escaped = xml_escape(hostile);
  EXPECT_EQ(escaped,
            "red ]]&gt; &lt;a&gt; &amp; &quot;q&quot; &apos;a&apos; \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD "
            "\xEF\xBF\xBD ok \xEF\xBF\xBD end&#13;");
  EXPECT_EQ(xml_escape("overlong \xc0\xaf and surrogate \xed\xa0\x80"),
            "overlong \xEF\xBF\xBD\xEF\xBF\xBD and surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(xml_escape("emoji \xf0\x9f\x98\x80 stays"), "emoji \xf0\x9f\x98\x80 stays");
}

TEST(Junit, OneSuitePerBinaryAndTheRightElements) {
  const std::string xml = to_junit_xml(sample());
  EXPECT_NE(xml.find("<testsuites name=\"xrun\" tests=\"5\" failures=\"1\" errors=\"1\" skipped=\"1\""),
            std::string::npos) << xml;
  EXPECT_NE(xml.find("<testsuite name=\"/build/suite\" tests=\"3\""), std::string::npos);
  EXPECT_NE(xml.find("<testsuite name=\"/build/rust\" tests=\"2\""), std::string::npos);
  EXPECT_NE(xml.find("<failure message=\"SIGSEGV (signal 11)\" type=\"crashed\">"), std::string::npos);
  EXPECT_NE(xml.find("<error message=\"qemu-aarch64 not found\" type=\"infra-error\">"), std::string::npos);
  EXPECT_NE(xml.find("<skipped message=\"disabled\"/>"), std::string::npos);
  EXPECT_NE(xml.find("classname=\"rust::tests\""), std::string::npos);
  EXPECT_NE(xml.find("[xrun] flaky after 2 attempts"), std::string::npos);
}

TEST(Summary, CountsEveryStatus) {
  auto counts = summarize(sample().tests);
  EXPECT_EQ(counts["total"], 5u);
  EXPECT_EQ(counts["crashed"], 1u);
  EXPECT_EQ(counts["timed-out"], 0u);
}

// CI viewers show the <failure> element: it carries the assertion (as
// GoogleTest's own XML does), and for a crash the signal and the output's end.
TEST(Junit, FailuresCarryTheirAssertionAndCrashesTheirOutput) {
  RunReport report = sample();
  TestResult failed{"/build/suite", "Fail.Assertion", Status::Failed};
  failed.message = "suite_test.cpp:26: Failure";
  failed.failure = "suite_test.cpp:26: Failure\nExpected equality of these values:\n  2 + 2\n  5";
  failed.attempts = 1;
  report.tests.push_back(failed);
  const std::string xml = to_junit_xml(report);
  EXPECT_NE(xml.find("<failure message=\"suite_test.cpp:26: Failure&#10;Expected equality of these values:&#10;  2 + 2&#10;  5\" "
                     "type=\"failed\">suite_test.cpp:26: Failure\nExpected equality"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure message=\"SIGSEGV (signal 11)\" type=\"crashed\">SIGSEGV (signal 11)\nbefore\n</failure>"),
            std::string::npos)
      << xml;
  auto back = report_from_json(to_json(report), "r.json");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->tests.back().failure, failed.failure);
}

// After Ctrl-C, tests that never ran are said to be that, not "skipped".
TEST(Verdict, NotRunIsNotSkipped) {
  std::vector<TestResult> results;
  for (auto status : {Status::Passed, Status::Failed, Status::Skipped, Status::NotRun, Status::NotRun})
    results.push_back(TestResult{"/b", "t", status});
  EXPECT_EQ(verdict_line(results), "1 passed, 1 failed, 1 skipped, 2 not run");
  results.resize(3);
  EXPECT_EQ(verdict_line(results), "1 passed, 1 failed, 1 skipped");
}

}  // namespace
