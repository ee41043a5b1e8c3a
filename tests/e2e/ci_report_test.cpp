// What a CI log and a CI job page show of a run: GitHub Actions annotations
// and step summary, SLOW lines while a test runs long, and the slowest tests
// in the summary. The hostile GoogleTest suite under real qemu-user.
#include <gtest/gtest.h>

#include <fstream>

#include "e2e/xrun_runner.h"
#include "support/temp_dir.h"

namespace xrun::testing {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// The line of the fixture's source that holds `text`.
int source_line_of(const std::string& path, const std::string& text) {
  std::ifstream in(path);
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.find(text) != std::string::npos) return number;
  }
  return 0;
}

TEST(GitHubActions, AFailureIsAnAnnotationAtItsLineAndTheRunIsTheStepSummary) {
  TempDir dir;
  const std::string summary = dir.path() + "/summary.md";
  const std::vector<std::string> args = {"test",   XRUN_GTEST_SUITE, "--filter", "Fail.*",    "--filter",
                                         "Pass.*", "--filter",       "Crash.*",  "--slowest", "2"};
  auto r = run_xrun(args, {.env = environment_with({"GITHUB_ACTIONS=true", "GITHUB_WORKSPACE=" XRUN_SOURCE_DIR,
                                                    "GITHUB_STEP_SUMMARY=" + summary}),
                           .timeout_seconds = 120});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  const std::string source = std::string(XRUN_SOURCE_DIR) + "/tests/fixtures/gtest_suite/suite_test.cpp";
  const int line = source_line_of(source, "arithmetic is broken");
  ASSERT_GT(line, 0);
  // GoogleTest names the EXPECT's line; the annotation is relative to the
  // workspace, its message the assertion with newlines as %0A.
  EXPECT_NE(r.out.find("::error file=tests/fixtures/gtest_suite/suite_test.cpp,line=" + std::to_string(line) +
                       ",title=suite_tests Fail.Assertion failed::"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Failure%0AExpected equality of these values:%0A"), std::string::npos) << r.out;
  // A crash names no line: no annotation, but it is in the summary.
  EXPECT_EQ(r.out.find("title=suite_tests Crash."), std::string::npos) << r.out;

  const std::string markdown = read_text(summary);
  EXPECT_NE(markdown.find("## xrun test: 3 failed of 5 tests"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("| 2 | 1 | 2 | 0 | 0 | 0 | 0 | 0 |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("<code>suite\\_tests Fail.Assertion</code> failed:"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("arithmetic is broken"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("<code>suite\\_tests Crash.Segfault</code> crashed: SIGSEGV"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("### Slowest 2"), std::string::npos) << markdown;

  // Outside GitHub Actions none of it.
  auto plain =
      run_xrun(args, {.env = environment_with({"GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY=" + dir.path() + "/no.md"}),
                      .timeout_seconds = 120});
  EXPECT_EQ(plain.out.find("::error"), std::string::npos) << plain.out;
  EXPECT_FALSE(std::ifstream(dir.path() + "/no.md").good());
}

TEST(TerminalSummary, ATestRunningLongIsMarkedSlowAndTheSlowestAreListed) {
  auto r = run_xrun({"test", XRUN_GTEST_SUITE, "--filter", "Hang.*", "--filter", "Pass.*", "--timeout", "3", "--slow",
                     "1", "--slowest", "2"},
                    {.timeout_seconds = 120});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.out.find("    SLOW [>  1.000s] suite_tests Hang.Forever\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    SLOW [>  2.000s] suite_tests Hang.Forever\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("SLOW [>  1.000s] suite_tests Pass."), std::string::npos) << r.out;
  const auto slowest = r.out.find("\nSlowest 2:\n");
  ASSERT_NE(slowest, std::string::npos) << r.out;
  const std::string listed = r.out.substr(slowest, r.out.find("\n\n", slowest + 1) - slowest);
  EXPECT_NE(listed.find("s  suite_tests Hang.Forever\n"), std::string::npos) << listed;
  EXPECT_LT(listed.find("Hang.Forever"), listed.find("Pass.")) << "slowest first: " << listed;
  EXPECT_EQ(std::count(listed.begin(), listed.end(), '\n'), 3) << listed;  // the heading and two tests
}

}  // namespace
}  // namespace xrun::testing
