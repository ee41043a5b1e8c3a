#include "report/report.h"

#include <gtest/gtest.h>

#include "report/junit.h"

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
  auto bad = report_from_json(R"({"schema":"xrun-test-report/1","tests":[{"binary":"b","name":"n","status":"weird"}]})",
                              "x.json");
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
            std::string::npos)
      << xml;
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
  EXPECT_NE(
      xml.find(
          "<failure message=\"suite_test.cpp:26: Failure&#10;Expected equality of these values:&#10;  2 + 2&#10;  5\" "
          "type=\"failed\">suite_test.cpp:26: Failure\nExpected equality"),
      std::string::npos)
      << xml;
  EXPECT_NE(
      xml.find("<failure message=\"SIGSEGV (signal 11)\" type=\"crashed\">SIGSEGV (signal 11)\nbefore\n</failure>"),
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

// An infra error is the emulator's or the machine's failure, not the test's
// (exit status 3): the verdict counts it apart. A run whose only result was
// one said "0 passed, 1 failed".
TEST(Verdict, InfraErrorsAreNotCountedAsFailed) {
  std::vector<TestResult> results{TestResult{"/b", "t", Status::InfraError}};
  EXPECT_EQ(verdict_line(results), "0 passed, 0 failed, 0 skipped, 1 infra error");
  for (auto status : {Status::InfraError, Status::Crashed, Status::NotRun})
    results.push_back(TestResult{"/b", "t", status});
  EXPECT_EQ(verdict_line(results), "0 passed, 1 failed, 0 skipped, 2 infra errors, 1 not run");
}

}  // namespace

#include "report/terminal.h"
#include "support/manual_time.h"

namespace {

// What a TerminalReporter printed, into memory.
struct Printed {
  char* buffer = nullptr;
  std::size_t size = 0;
  std::FILE* out = ::open_memstream(&buffer, &size);
  ~Printed() {
    if (out) std::fclose(out);
    std::free(buffer);
  }
  std::string text() {
    std::fflush(out);
    return std::string(buffer, size);
  }
};

TestCase test_case(const std::string& binary, const std::string& name) {
  TestCase t;
  t.binary = binary;
  t.name = name;
  return t;
}

// The terminal gets a test's output whole (nothing cut at a NUL) and never
// raw control sequences: colour only where colour is on, the rest visible.
TEST(Terminal, OutputIsShownWholeAndControlBytesVisibly) {
  const std::string output = std::string("before\0after\n", 13) + "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b[2J\r\n";
  EXPECT_EQ(terminal_safe(output, true), "before\\x00after\n\x1b[31mred\x1b[0m \\x1b]0;title\\x07 \\x1b[2J\n");
  EXPECT_EQ(terminal_safe(output, false), "before\\x00after\nred \\x1b]0;title\\x07 \\x1b[2J\n");
}

TEST(Terminal, TheFailureSummaryHasTheOutputAfterANul) {
  boost::asio::io_context io;
  xrun::testing::ManualTime time(io);
  Printed printed;
  TerminalReporter terminal(io, printed.out, TerminalOptions{}, &time);
  TestResult failed{"/b/suite", "A.b", Status::Failed};
  failed.output = std::string("[ RUN      ] A.b\n\0x.cpp:3: Failure\n[  FAILED  ] A.b (0 ms)\n", 59);
  terminal.on_finish({failed}, 1.0, false);
  const std::string text = printed.text();
  EXPECT_NE(text.find("\\x00x.cpp:3: Failure\n[  FAILED  ] A.b (0 ms)"), std::string::npos) << text;
}

// The SLOW lines on the test's clock (no real time passes): a test still
// running at each multiple of slow_seconds gets a line for it, once; one
// that ended before the first gets none.
TEST(Terminal, ATestRunningLongGetsASlowLineAtEachMultiple) {
  boost::asio::io_context io;
  xrun::testing::ManualTime time(io);
  Printed printed;
  TerminalOptions options;
  options.slow_seconds = 1;
  TerminalReporter terminal(io, printed.out, options, &time);
  const TestCase hangs = test_case("/b/suite_tests", "Hang.Forever"), quick = test_case("/b/suite_tests", "Pass.Quick");
  terminal.on_plan({hangs, quick});
  terminal.on_test_started(hangs);
  terminal.on_test_started(quick);
  const auto run_until = [&](std::chrono::milliseconds at) {
    while (time.now() - TimeSource::Clock::time_point{} < at) {
      time.advance(std::chrono::milliseconds(100));
      io.restart();
      io.poll();
    }
  };
  run_until(std::chrono::milliseconds(900));
  EXPECT_EQ(printed.text().find("SLOW"), std::string::npos) << "not before its time: " << printed.text();
  terminal.on_result(TestResult{quick.binary, quick.name, Status::Passed});
  run_until(std::chrono::milliseconds(2500));
  const std::string text = printed.text();
  EXPECT_NE(text.find("    SLOW [>  1.000s] suite_tests Hang.Forever\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    SLOW [>  2.000s] suite_tests Hang.Forever\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("SLOW [>  3.000s]"), std::string::npos) << text;
  EXPECT_EQ(text.find("Pass.Quick\n", text.find("SLOW")), std::string::npos) << "it ended before 1 s: " << text;
  std::size_t lines = 0;
  for (auto at = text.find("SLOW"); at != std::string::npos; at = text.find("SLOW", at + 1)) ++lines;
  EXPECT_EQ(lines, 2u) << text;
  terminal.on_finish({}, 2.5, false);
  EXPECT_EQ(time.pending(), 0u) << "the refresh stops with the run";
}

// On a terminal the progress line says how long the slowest running test
// has run, exactly (the test's clock).
TEST(Terminal, TheProgressLineNamesTheSlowestRunningTest) {
  boost::asio::io_context io;
  xrun::testing::ManualTime time(io);
  Printed printed;
  TerminalOptions options;
  options.interactive = true;
  options.slow_seconds.reset();
  TerminalReporter terminal(io, printed.out, options, &time);
  const TestCase first = test_case("/b/suite_tests", "A.first"), second = test_case("/b/suite_tests", "B.second");
  terminal.on_plan({first, second});
  terminal.on_test_started(first);
  time.advance(std::chrono::milliseconds(200));
  io.restart();
  io.poll();
  terminal.on_test_started(second);
  for (int i = 0; i < 6; ++i) {
    time.advance(std::chrono::milliseconds(200));
    io.restart();
    io.poll();
  }
  terminal.on_result(TestResult{first.binary, first.name, Status::Passed});
  const std::string text = printed.text();
  EXPECT_NE(text.find("[0/2] 0 failed, 2 running; slowest: suite_tests A.first (1.4s)"), std::string::npos) << text;
  EXPECT_NE(text.find("[1/2] 0 failed, 1 running; slowest: suite_tests B.second (1.2s)"), std::string::npos) << text;
  terminal.on_finish({}, 1.4, false);
}

// A warning of the run is "xrun: warning: ..." on stderr, as print_warning
// says it, with the progress line cleared first and drawn again after.
TEST(Terminal, AWarningIsPrintedOnStderrAboveTheProgressLine) {
  boost::asio::io_context io;
  xrun::testing::ManualTime time(io);
  Printed printed;
  TerminalOptions options;
  options.interactive = true;
  options.slow_seconds.reset();
  TerminalReporter terminal(io, printed.out, options, &time);
  const TestCase only = test_case("/b/suite_tests", "A.only");
  terminal.on_plan({only});
  terminal.on_test_started(only);
  std::FILE* err = std::tmpfile();
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(err), STDERR_FILENO);
  terminal.on_warning("board pi-b is out of this run: it did not answer");
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::rewind(err);
  char line[256] = {};
  const std::size_t got = std::fread(line, 1, sizeof line - 1, err);
  std::fclose(err);
  EXPECT_EQ(std::string(line, got), "xrun: warning: board pi-b is out of this run: it did not answer\n");
  const std::string text = printed.text();
  const std::string progress = "\r\033[K[0/1] 0 failed, 1 running; slowest: suite_tests A.only (0.0s)";
  ASSERT_GE(text.size(), progress.size()) << text;
  EXPECT_EQ(text.substr(text.size() - progress.size()), progress) << "drawn again after the warning";
  terminal.on_finish({}, 0, false);
}

}  // namespace

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "report/html.h"
#include "report/junit.h"
#include "report/report_files.h"
#include "support/manual_time.h"
#include "support/temp_dir.h"

using xrun::testing::ManualTime;

namespace {

std::vector<TestCase> planned(int n) {
  std::vector<TestCase> tests;
  for (int i = 0; i < n; ++i) {
    TestCase t;
    t.binary = "/b/suite";
    t.name = "T.t" + std::to_string(i);
    tests.push_back(t);
  }
  return tests;
}

nlohmann::json read(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// A report left by an xrun that was killed says so: every planned test is
// in it from the start, and "complete" is false until the run ended.
TEST(ReportFiles, ThePlanIsWrittenFirstAndCompleteComesLast) {
  xrun::testing::TempDir dir;
  boost::asio::io_context io;
  ReportSetup setup;
  setup.json_path = dir.path() + "/r.json";
  setup.junit_path = dir.path() + "/r.xml";
  ManualTime time(io);
  ReportFiles files(io, setup, std::chrono::milliseconds(0), &time);
  const auto plan = planned(3);
  files.on_plan(plan);
  auto report = read(dir.path() + "/r.json");
  EXPECT_EQ(report["complete"], false);
  ASSERT_EQ(report["tests"].size(), 3u);
  EXPECT_EQ(report["tests"][1]["status"], "not-run");
  // At the very moment of the plan's rewrite: too soon for another (its
  // bytes take time), so a deferred rewrite writes it, not the next result.
  files.on_result(TestResult{"/b/suite", "T.t1", Status::Passed});
  EXPECT_EQ(files.writes(), 1u);
  time.run();  // the deferred rewrite
  EXPECT_EQ(files.writes(), 2u);
  report = read(dir.path() + "/r.json");
  EXPECT_EQ(report["tests"][1]["status"], "passed");
  EXPECT_EQ(report["tests"].size(), 3u) << "a result takes its planned place";
  std::vector<TestResult> results;
  for (const auto& t : plan) results.push_back(TestResult{t.binary, t.name, Status::Passed});
  files.on_finish(results, 1.0, false);
  EXPECT_EQ(read(dir.path() + "/r.json")["complete"], true);
}

// Rewrites never come more often than every `interval`, four times what the
// last one took, or what its bytes take at kRewriteBytesPerSecond.
TEST(ReportFiles, RewritesAdaptToWhatTheyCost) {
  using namespace std::chrono_literals;
  const double rate = ReportFiles::kRewriteBytesPerSecond;
  EXPECT_EQ(rewrite_spacing(250ms, 0ms, 0, rate), 250ms);
  EXPECT_EQ(rewrite_spacing(0ms, 10ms, 0, rate), 40ms) << "four times its cost";
  EXPECT_EQ(rewrite_spacing(250ms, 100ms, 0, rate), 400ms);
  EXPECT_EQ(rewrite_spacing(0ms, 1ms, static_cast<std::uint64_t>(rate), rate), 1s) << "what its bytes take";
  EXPECT_EQ(rewrite_spacing(2s, 1ms, static_cast<std::uint64_t>(rate), rate), 2s);
}

// Thousands of results arriving at once cost one rewrite, not thousands;
// spread over 5 s, one every 250 ms. The clock is the test's: a rewrite
// takes no time on it, and results come exactly 1 ms apart.
TEST(ReportFiles, ResultsThatComeTogetherAreWrittenTogether) {
  for (const bool at_once : {true, false}) {
    SCOPED_TRACE(at_once ? "at once" : "1 ms apart");
    xrun::testing::TempDir dir;
    boost::asio::io_context io;
    ManualTime time(io);
    ReportSetup setup;
    setup.json_path = dir.path() + "/r.json";
    setup.junit_path = dir.path() + "/r.xml";
    ReportFiles files(io, setup, std::chrono::milliseconds(250), &time);
    const auto plan = planned(5000);
    files.on_plan(plan);
    for (const auto& t : plan) {
      if (!at_once) {
        time.advance(std::chrono::milliseconds(1));
        io.restart();  // a poll that found nothing to do stopped the context
        io.poll();     // a deferred rewrite due by now
      }
      files.on_result(TestResult{t.binary, t.name, Status::Passed, 0, std::nullopt, 0.001});
    }
    time.run();
    // At once: the plan, then the deferred rewrite. 1 ms apart: the plan, at
    // 250, 500, ... 5,000 ms, and the deferred one for the last result.
    EXPECT_EQ(files.writes(), at_once ? 2u : 22u);
    EXPECT_EQ(read(*setup.json_path)["tests"][4999]["status"], "passed") << "the last result is written";
  }
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A rewrite copies what was encoded, it does not encode again: each result
// is encoded once per format when it arrives, and the final rewrite only
// respells the message of the tests that never ran (their planned text
// around the new message). Before, every rewrite encoded every test, and at
// 100,000 tests the last one after SIGTERM took seconds; then the tests a
// stop left not run were still encoded afresh, most of a second.
TEST(ReportFiles, EachResultIsEncodedOncePerFormat) {
  xrun::testing::TempDir dir;
  boost::asio::io_context io;
  ReportSetup setup;
  setup.json_path = dir.path() + "/r.json";
  setup.junit_path = dir.path() + "/r.xml";
  ManualTime time(io);
  ReportFiles files(io, setup, std::chrono::milliseconds(0), &time);
  constexpr std::size_t kTests = 3000;
  const auto plan = planned(kTests);
  files.on_plan(plan);
  EXPECT_EQ(files.encodings(), 0u) << "a plan is written from the not-run templates, never encoded";
  std::vector<TestResult> results;
  for (std::size_t i = 0; i < kTests; ++i) {
    TestResult r{plan[i].binary, plan[i].name, Status::Passed, 0, std::nullopt, 0.001};
    r.attempts = 1;
    r.output = "[ RUN      ] " + plan[i].name + "\n";
    if (i < kTests / 2) {
      files.on_result(r);
      if (i % 100 == 0) {  // deferred rewrites run between results
        time.advance(std::chrono::seconds(1));
        io.restart();
        io.poll();
      }
    } else {
      r = TestResult{plan[i].binary, plan[i].name, Status::NotRun};
      r.message = i % 2 ? "interrupted" : "not run: --fail-fast after \"T.<t1>\" & \x01";  // escaped in both formats
    }
    results.push_back(r);
  }
  time.run();
  EXPECT_GE(files.writes(), 2u);
  EXPECT_EQ(files.encodings(), 2 * (kTests / 2)) << "each result once per format, whatever the rewrites";
  files.on_finish(results, 1.0, true);
  EXPECT_EQ(files.encodings(), 2 * (kTests / 2)) << "the tests left not run come from the templates too";
  // What was written in pieces is the report as a whole, respelled
  // messages included.
  EXPECT_EQ(slurp(*setup.json_path), to_json(files.report()));
  EXPECT_EQ(slurp(*setup.junit_path), to_junit_xml(files.report()));
  const auto report = read(*setup.json_path);
  EXPECT_EQ(report["complete"], true);
  EXPECT_EQ(report["interrupted"], true);
  EXPECT_EQ(report["summary"]["passed"], kTests / 2);
  EXPECT_EQ(report["tests"][kTests - 1]["message"], "interrupted");
  EXPECT_EQ(report["tests"][kTests - 2]["message"], "not run: --fail-fast after \"T.<t1>\" & \x01");
  // A result that changes more than its message is encoded whole.
  TestResult retried = results[kTests - 1];
  retried.attempts = 2;
  retried.message = "not run: interrupted";
  results[kTests - 1] = retried;
  files.on_finish(results, 1.0, true);
  EXPECT_EQ(files.encodings(), 2 * (kTests / 2) + 2);
  EXPECT_EQ(slurp(*setup.json_path), to_json(files.report()));
  EXPECT_EQ(slurp(*setup.junit_path), to_junit_xml(files.report()));
}

// A stop signal that comes while the plan or a periodic rewrite is written
// makes it give up, and no rewrite starts after it (the stop writes off the
// queue, a result at a time), so a SIGTERM never waits for a rewrite of a
// 60 MB report (before, up to 1.25 s at 100,000 tests). The final write is
// never given up, though the count moves on while it writes, and it writes
// everything.
TEST(ReportFiles, AStopSignalAbandonsARewriteButNeverTheFinalOne) {
  xrun::testing::TempDir dir;
  boost::asio::io_context io;
  ReportSetup setup;
  setup.json_path = dir.path() + "/r.json";
  setup.junit_path = dir.path() + "/r.xml";
  setup.html_path = dir.path() + "/r.html";
  // The signal comes while the plan is written (looks: when made, before
  // the rewrite, before composing the JSON, before its first batch).
  int looks = 0;
  setup.stop_count = [&] { return std::uint64_t{++looks > 3}; };
  ReportFiles files(io, setup, std::chrono::milliseconds(0));
  const auto plan = planned(20000);
  files.on_plan(plan);
  EXPECT_EQ(files.abandoned_writes(), 1u);
  EXPECT_EQ(files.writes(), 0u);
  EXPECT_EQ(files.bytes_written(), 0u);
  for (const auto& path : {*setup.json_path, *setup.junit_path, *setup.html_path})
    EXPECT_FALSE(std::filesystem::exists(path)) << path << ": the plan's write gave up";
  // The stop writes off the queue: none of its results starts a rewrite.
  std::vector<TestResult> results;
  for (const auto& t : plan) {
    TestResult r{t.binary, t.name, Status::NotRun};
    r.message = "not run: interrupted";
    files.on_result(r);
    results.push_back(r);
  }
  io.run();
  EXPECT_EQ(files.writes(), 0u) << "a rewrite after the stop";
  EXPECT_FALSE(std::filesystem::exists(*setup.json_path));
  files.on_finish(results, 1.0, true);
  EXPECT_EQ(files.writes(), 1u);
  EXPECT_EQ(slurp(*setup.json_path), to_json(files.report()));
  EXPECT_EQ(slurp(*setup.junit_path), to_junit_xml(files.report()));
  const auto written = read(*setup.json_path);
  EXPECT_EQ(written["complete"], true);
  EXPECT_EQ(written["tests"].size(), plan.size());
  EXPECT_EQ(written["tests"][plan.size() - 1]["message"], "not run: interrupted");
  EXPECT_TRUE(std::filesystem::exists(*setup.html_path));
}

// A signal that comes between two batches of a rewrite: the file keeps
// its previous content, and no temporary is left.
TEST(ReportFiles, ARewriteInProgressGivesUpBetweenBatches) {
  xrun::testing::TempDir dir;
  boost::asio::io_context io;
  ReportSetup setup;
  setup.json_path = dir.write("r.json", "previous");
  // The signal is there once the first batch of 512 KiB is in the temporary.
  const std::string temporary = *setup.json_path + ".tmp." + std::to_string(::getpid());
  std::uintmax_t seen_written = 0;
  setup.stop_count = [&] {
    std::error_code ec;
    const auto size = std::filesystem::file_size(temporary, ec);
    if (!ec) seen_written = size;
    return std::uint64_t{!ec && size > 0};
  };
  ReportFiles files(io, setup, std::chrono::milliseconds(0));
  files.on_plan(planned(20000));  // about 8 MB of JSON
  EXPECT_GT(seen_written, 0u) << "given up before a batch was written";
  EXPECT_EQ(files.abandoned_writes(), 1u);
  EXPECT_EQ(slurp(*setup.json_path), "previous");
  EXPECT_FALSE(std::filesystem::exists(*setup.json_path + ".tmp." + std::to_string(::getpid())));
}

// No signal, no abandoning: the count unchanged while the rewrite writes.
TEST(ReportFiles, WithoutAStopEveryRewriteIsWritten) {
  xrun::testing::TempDir dir;
  boost::asio::io_context io;
  ReportSetup setup;
  setup.json_path = dir.path() + "/r.json";
  setup.stop_count = [] { return std::uint64_t{7}; };
  ReportFiles files(io, setup, std::chrono::milliseconds(0));
  files.on_plan(planned(20000));
  EXPECT_EQ(files.abandoned_writes(), 0u);
  EXPECT_EQ(read(*setup.json_path)["tests"].size(), 20000u);
}

// The HTML page's rows are kept the same way (by the version ReportFiles
// gives each result), and the page written in pieces is to_html()'s.
TEST(ReportFiles, TheHtmlPageKeepsItsRowsToo) {
  xrun::testing::TempDir dir;
  boost::asio::io_context io;
  ReportSetup setup;
  setup.html_path = dir.path() + "/r.html";
  ManualTime time(io);
  ReportFiles files(io, setup, std::chrono::milliseconds(0), &time);
  const auto plan = planned(500);
  files.on_plan(plan);
  std::vector<TestResult> results;
  for (const auto& t : plan) {
    TestResult r{t.binary, t.name, t.name == "T.t7" ? Status::Failed : Status::Passed, 1, std::nullopt, 0.5};
    r.output = std::string(3000, 'x') + "</script>" + t.name;  // deflated, and a "<" to escape
    files.on_result(r);
    results.push_back(r);
  }
  time.run();
  const std::size_t before_finish = files.encodings();
  files.on_finish(results, 1.0, false);
  // The run's header changed (complete), no row did; the outputs are kept by
  // their own fingerprint.
  EXPECT_EQ(files.encodings(), before_finish);
  EXPECT_EQ(slurp(*setup.html_path), to_html(files.report()));
}

// A test that is only planned, or was left not run, is written from a
// template around its binary, name and message: the text is the encoders'
// own, whatever the fields hold (escapes in both formats, the JUnit
// classname taken from either kind of name, invalid UTF-8, empty fields),
// and a test with anything more is not such a test.
TEST(NotRunTemplates, GiveWhatTheEncodersGive) {
  const std::vector<std::string> binaries = {
      "/b/suite", "suite", "", "/a b/\"quoted\" & <x>/t\x01", "/x/\xff\xfe", "/long/" + std::string(300, 'p')};
  const std::vector<std::string> names = {"T.t1",        "Values/Param.Positive/0", "mod::sub::name", "plain", "",
                                          "a\"b<c>&d'e", "tab\tnew\nline\r",        "\x1b[31mred",    "é.ü",   "x::"};
  const std::vector<std::string> messages = {"not run yet", "not run: interrupted",
                                             "not run: --fail-fast after \"T.<t1>\" & \x01", ""};
  std::size_t checked = 0;
  for (const auto& binary : binaries)
    for (const auto& name : names)
      for (const auto& message : messages) {
        TestResult t{binary, name, Status::NotRun};
        t.message = message;
        ASSERT_TRUE(is_plain_not_run(t));
        std::string json, junit;
        json_not_run_from_template(json, t);
        junit_not_run_from_template(junit, t);
        ASSERT_EQ(json, json_test_encoding(t).text) << binary << " " << name << " " << message;
        ASSERT_EQ(junit, junit_testcase_encoding(t).text) << binary << " " << name << " " << message;
        ++checked;
      }
  EXPECT_EQ(checked, binaries.size() * names.size() * messages.size());
  // Any field more makes a test that is encoded whole.
  const auto with = [](auto change) {
    TestResult t{"/b/suite", "T.t1", Status::NotRun};
    change(t);
    return is_plain_not_run(t);
  };
  EXPECT_FALSE(with([](TestResult& t) { t.status = Status::Skipped; }));
  EXPECT_FALSE(with([](TestResult& t) { t.attempts = 1; }));
  EXPECT_FALSE(with([](TestResult& t) { t.output = "x"; }));
  EXPECT_FALSE(with([](TestResult& t) { t.machine = "pi"; }));
  EXPECT_FALSE(with([](TestResult& t) { t.backend = "qemu-user"; }));
  EXPECT_FALSE(with([](TestResult& t) { t.history.push_back({}); }));
  EXPECT_FALSE(with([](TestResult& t) { t.duration_seconds = 0.5; }));
}

// A JSON entry is written by hand (not through nlohmann's tree): whatever a
// test printed, it parses, and means what nlohmann's encoding meant.
TEST(JsonReport, EntriesEscapeWhatJsonForbids) {
  TestResult t{"/b/su\"ite", "T.\\name", Status::Crashed, std::nullopt, 11, 0.25};
  t.attempts = 2;
  t.output = std::string("tab\tnl\ncr\rnul") + '\0' + "\x01\x1f\x7f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
  t.message = "quote \" backslash \\ slash /";
  t.failure = "f\bf\f";
  t.machine = "VM 1";
  t.history = {{Status::Failed, 0.5, "first\n"}, {Status::Crashed, 0.25, "second"}};
  const auto parsed = nlohmann::json::parse("[\n" + json_test_entry(t) + "\n]")[0];
  EXPECT_EQ(parsed, test_result_to_json(t));
  // Invalid UTF-8 (a lone continuation byte, a truncated sequence, an
  // overlong form, a surrogate, a lead byte at the end) becomes U+FFFD.
  TestResult bad{"b", "n", Status::Passed};
  bad.output =
      "a\x80"
      "b\xe2\x82"
      "c\xc0\xaf"
      "d\xed\xa0\x80"
      "e\xf4\x90\x80\x80"
      "f\xf0";
  const auto output = nlohmann::json::parse("[\n" + json_test_entry(bad) + "\n]")[0]["output"].get<std::string>();
  const std::string r = "\xef\xbf\xbd";
  EXPECT_EQ(output, "a" + r + "b" + r + r + "c" + r + r + "d" + r + r + r + "e" + r + r + r + r + "f" + r);
  // And the whole report reads back.
  RunReport report;
  report.tests = {t, bad};
  auto back = report_from_json(to_json(report), "r.json");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->tests[0].output, t.output);
}

// What the schema does not allow is the file's error, with the field.
TEST(JsonReport, ValuesOutOfRangeAreErrorsThatNameTheField) {
  const auto with = [](const std::string& fields) {
    return R"({"schema":"xrun-test-report/1","tests":[{"binary":"b","name":"n","status":"failed",)" + fields + "}]}";
  };
  auto huge = report_from_json(with(R"("exit_code": 99999999999999)"), "r.json");
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().message, "r.json: tests[0].exit_code must be an integer from 0 to 255, not 99999999999999");
  auto overflow = report_from_json(with(R"("duration_seconds": 1e999)"), "r.json");
  ASSERT_FALSE(overflow);
  EXPECT_EQ(overflow.error().code, ExitCode::Usage);
  auto negative = report_from_json(with(R"("duration_seconds": -3)"), "r.json");
  ASSERT_FALSE(negative);
  EXPECT_NE(negative.error().message.find("duration_seconds must be a number of seconds"), std::string::npos);
  EXPECT_TRUE(report_from_json(with(R"("exit_code": 1, "signal": null)"), "r.json"));
}

}  // namespace

// What the backends warned of is in the JSON report: those before the files
// were made (ReportSetup::warnings) and those during the run, each written
// with the next rewrite; a report from before the field reads as none.
TEST(ReportFiles, WarningsAreKeptInTheJsonReport) {
  xrun::testing::TempDir dir;
  boost::asio::io_context io;
  ReportSetup setup;
  setup.json_path = dir.path() + "/r.json";
  setup.warnings = {"board pi-b is out of this run: it did not answer"};
  ManualTime time(io);
  ReportFiles files(io, setup, std::chrono::milliseconds(0), &time);
  files.on_plan(planned(1));
  EXPECT_EQ(read(dir.path() + "/r.json")["warnings"],
            nlohmann::json::array({"board pi-b is out of this run: it did not answer"}));
  Reporters reporters;
  reporters.add(&files);
  reporters.on_warning("starting a VM from saved state failed, cold-booting instead: qemu died");
  time.run();  // the rewrite it asked for
  EXPECT_EQ(read(dir.path() + "/r.json")["warnings"].size(), 2u);
  files.on_finish({TestResult{"/b/suite", "T.t0", Status::Passed}}, 1.0, false);
  const auto text = slurp(dir.path() + "/r.json");
  auto back = report_from_json(text, "r.json");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->warnings,
            (std::vector<std::string>{"board pi-b is out of this run: it did not answer",
                                      "starting a VM from saved state failed, cold-booting instead: qemu died"}));
  auto old = nlohmann::json::parse(text);
  old.erase("warnings");
  auto read_old = report_from_json(old.dump(), "old.json");
  ASSERT_TRUE(read_old) << read_old.error().message;
  EXPECT_TRUE(read_old->warnings.empty());
}

// Before the reporters exist (while the tests are listed) a warning is
// printed at once and kept for the report files; after, it goes to them.
TEST(ReportedWarnings, GoToTheReportersOnceThereAreSome) {
  struct Heard final : Reporter {
    std::vector<std::string> warnings;
    void on_warning(const std::string& message) override { warnings.push_back(message); }
  } heard;
  ReportedWarnings warnings;
  const int saved = ::dup(STDERR_FILENO);
  const int quiet = ::open("/dev/null", O_WRONLY);
  ::dup2(quiet, STDERR_FILENO);
  warnings.warn("early");
  ::dup2(saved, STDERR_FILENO);
  ::close(saved), ::close(quiet);
  warnings.report_to(&heard);
  warnings.warn("late");
  EXPECT_EQ(warnings.before_reporters(), std::vector<std::string>{"early"});
  EXPECT_EQ(heard.warnings, std::vector<std::string>{"late"});
}
