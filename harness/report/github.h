// Under GitHub Actions (GITHUB_ACTIONS=true): a failure whose assertion or
// output names file:line becomes a workflow annotation at that line, and the
// run's summary is appended to GITHUB_STEP_SUMMARY as Markdown (counts, each
// failure with its assertion, what changed since the baseline, the slowest
// tests). GitLab needs nothing of this: its test report reads the JUnit.
#pragma once

#include <optional>
#include <string>

#include "report/report.h"

namespace xrun {

struct SourceLocation {
  std::string file;
  int line = 0;
};

// Where a failed test's assertion points: GoogleTest's "file:line: Failure",
// libtest's "panicked at file:line:col", or the first "file.ext:line" of a
// source file in its output.
std::optional<SourceLocation> failure_location(const TestResult& test);

// One "::error file=...,line=...,title=...::message" command, with the file
// relative to `workspace` when it is under it (GitHub's annotations name
// files of the repository).
std::string workflow_annotation(const TestResult& test, const SourceLocation& where, const std::string& workspace);

// The step summary: at most about 1 MiB (GitHub's limit for one step).
std::string step_summary_markdown(const RunReport& report, std::size_t slowest);

// Both, when the environment says this is a GitHub Actions job: annotations
// on `out`, the summary appended to $GITHUB_STEP_SUMMARY. An error names what
// could not be written.
std::optional<std::string> publish_to_github_actions(const RunReport& report, std::FILE* out, std::size_t slowest);

}  // namespace xrun
