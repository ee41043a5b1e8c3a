// The run report: what the JSON file holds (schema in docs/report-schema.md),
// and the model the JUnit writer and `xrun report merge` work from.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/expected.h"
#include "engine/test_model.h"

namespace xrun {

inline constexpr const char* kReportSchema = "xrun-test-report/1";

struct RunReport {
  std::string started_at;        // ISO 8601 UTC
  double duration_seconds = 0;
  bool interrupted = false;
  // False until the run ended and the report was finished: a file that
  // still says false was left by an xrun that was killed (or is running).
  bool complete = true;
  std::optional<std::string> error;  // why no tests ran (the listing failed)
  std::optional<std::string> partition;  // "2/4"
  std::vector<TestResult> tests;
};

// Count per status name, plus "total".
std::map<std::string, std::size_t> summarize(const std::vector<TestResult>& tests);
// The one-line verdict CI log readers know, "10 passed, 4 failed, 3 skipped",
// with ", N not run" when Ctrl-C or --fail-fast left tests unrun (they are
// not skipped).
std::string verdict_line(const std::vector<TestResult>& tests);

std::string to_json(const RunReport& report);
Expected<RunReport> report_from_json(const std::string& text, const std::string& source);


// "2026-11-22T10:00:00Z"
std::string utc_now_iso8601();

}  // namespace xrun
