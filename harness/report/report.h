// The run report: what the JSON file holds (schema in docs/report-schema.md),
// and the model the JUnit writer and `xrun report merge` work from.
#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/expected.h"
#include "engine/test_model.h"

namespace xrun {

inline constexpr const char* kReportSchema = "xrun-test-report/1";

// A test as a comparison names it, with its status on either side.
struct ComparedTest {
  std::string binary, name;
  std::string status;  // now ("" when removed)
  std::string before;  // in the baseline ("" when new)
  double seconds = 0, before_seconds = 0;
};

// What changed since a baseline report (`--baseline PREV.json`); see
// report/baseline.h for how tests are matched.
struct BaselineComparison {
  std::string source;                   // the baseline's path, as given
  std::string started_at;               // the baseline run's
  double slowdown = 0.5;                // a test is slower when its duration grew by more than this share...
  double slowdown_floor_seconds = 0.1;  // ...and by more than this
  std::vector<ComparedTest> new_failures, fixed, still_failing, new_tests, removed_tests, slower;
};

struct RunReport {
  std::string started_at;  // ISO 8601 UTC
  double duration_seconds = 0;
  bool interrupted = false;
  // False until the run ended and the report was finished: a file that
  // still says false was left by an xrun that was killed (or is running).
  bool complete = true;
  std::optional<std::string> error;       // why no tests ran (the listing failed)
  std::optional<std::string> partition;   // "2/4"
  std::vector<std::string> command_line;  // xrun's argv, as given
  std::string host;                       // "ci-runner-3 (x86_64)": where xrun ran
  std::optional<BaselineComparison> baseline;
  // What xrun warned of during the run ("board pi4 is out of this run: ..."),
  // as the terminal showed it after "xrun: warning: ".
  std::vector<std::string> warnings;
  std::vector<TestResult> tests;
};

// Count per status name, plus "total".
std::map<std::string, std::size_t> summarize(const std::vector<TestResult>& tests);
// The one-line verdict CI log readers know, "10 passed, 4 failed, 3 skipped",
// with ", N infra errors" when the emulator, a VM or a board failed (not the
// tests), and ", N not run" when Ctrl-C or --fail-fast left tests unrun
// (they are not skipped).
std::string verdict_line(const std::vector<TestResult>& tests);

std::string to_json(const RunReport& report);
// to_json() in pieces, for a writer that keeps each test's text between
// rewrites: the document is json_report_head(report), then the entries of
// its tests separated by ",\n", then kJsonReportTail. An entry
// (json_test_entry) is written without nlohmann's tree: at a hundred
// thousand tests the tree took seconds per rewrite.
std::string json_report_head(const RunReport& report);
std::string json_test_entry(const TestResult& test);

// One test's text in a report format, with where its message went. A result
// that differs from the one encoded only in its message -- what a stop
// (Ctrl-C, --fail-fast) does to every test it leaves not run -- is written
// as the text around the old message plus the new one, without encoding the
// test again: after SIGTERM, tens of thousands of tests were encoded afresh
// (most of a second, nearly all of it page faults on the new text).
struct EncodedTest {
  static constexpr std::size_t kNoSpan = static_cast<std::size_t>(-1);
  std::string text;
  // A plain not-run test (is_plain_not_run) is not encoded nor kept: its
  // text is made from its format's template at each rewrite, into a buffer
  // the writer reuses, and `filled` views it (ReportFiles).
  bool from_template = false;
  std::string_view filled;
  // The message's encoded bytes within `text`; kNoSpan when it is not in
  // there exactly once (then the test is only ever encoded whole).
  std::size_t message_at = kNoSpan, message_length = 0;
  // The new message, encoded for this format; null: `text` as it is.
  const std::string* message = nullptr;

  bool can_respell() const { return message_at != kNoSpan; }
  void append_to(std::vector<std::string_view>& pieces) const;
};
EncodedTest json_test_encoding(const TestResult& test);

// A test that was planned and has not run, or was left not run: its binary,
// name and message, every other field as a TestResult starts. Most of a
// large plan is this, and every test a stop leaves not run: they are written
// from a template around those fields (below, and
// junit_not_run_from_template()), not encoded one by one. At 100,000 tests,
// encoding and keeping the plan took most of a second before the
// scheduler's loop could run -- a stop signal waited for it.
bool is_plain_not_run(const TestResult& test);
// json_test_encoding(test).text of a plain not-run test, appended to `out`.
void json_not_run_from_template(std::string& out, const TestResult& test);

// A text with marks in it, each once (a format's text for a test whose
// fields are the marks): append() writes the text with each mark replaced
// by what `fill(out, k)` appends for the k-th mark.
class TextTemplate {
 public:
  TextTemplate(std::string_view text, std::initializer_list<std::string_view> marks);
  template <class Fill>
  void append(std::string& out, Fill&& fill) const {
    for (std::size_t i = 0; i < marks_.size(); ++i) {
      out += between_[i];
      fill(out, marks_[i]);
    }
    out += between_.back();
  }

 private:
  std::vector<std::string> between_;  // the text around the marks, in order
  std::vector<std::size_t> marks_;    // which mark comes next, in order
};
// A message as json_test_encoding() writes it (with its quotes).
std::string json_message_encoding(std::string_view message);
inline constexpr std::string_view kJsonReportTail = "\n  ]\n}\n";
inline constexpr std::string_view kJsonReportEmptyTail = "]\n}\n";  // after a head, when there are no tests
// Pieces of to_json() for the other writers (the HTML report embeds them):
// the run without its tests, and one test.
nlohmann::json run_to_json(const RunReport& report);
nlohmann::json test_result_to_json(const TestResult& test);
Expected<RunReport> report_from_json(const std::string& text, const std::string& source);

// "2026-11-22T10:00:00Z"
std::string utc_now_iso8601();
// This machine's name and architecture, for RunReport::host.
std::string host_description();

}  // namespace xrun
