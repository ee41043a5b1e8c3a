// Keeps the --json, --junit and --html files up to date while the run goes on: each
// rewrite is atomic, and always at the end. Whatever stops xrun (Ctrl-C, a
// crash, kill -9, a CI timeout) leaves valid files: every planned test is in
// them from the start (not-run until it has a result), and "complete" says
// false until the run ended.
//
// Each test is encoded once per format when its result arrives, and kept
// (a stop only respells the message of the tests it leaves not run):
// a rewrite writes the kept pieces (plus the run's header and the counts)
// with one writev, so the final rewrite after Ctrl-C or SIGTERM costs a
// copy of the files, not their encoding (100,000 tests: seconds before).
// A stop signal that comes during a rewrite makes it give up (the temporary
// removed, the files as they were), so the final write starts at once.
// Rewrites come at most every `interval`, never more often than four times
// the last rewrite took, and no more bytes than kRewriteBytesPerSecond on
// average: a result that arrives sooner is written by a deferred flush,
// never held back until the next result, and a report of a hundred thousand
// tests is rewritten about once a second (each rewrite is linear in the
// tests; their number shrinks as they grow, so the run's total is linear
// in its length, not quadratic).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/stop_signals.h"
#include "core/time_source.h"
#include "engine/reporter.h"
#include "report/baseline.h"
#include "report/html.h"
#include "report/report.h"

namespace xrun {

// How long after a rewrite the next may come: `interval`, four times what
// that rewrite took, and the time its bytes take at `bytes_per_second`,
// whichever is the longest.
std::chrono::steady_clock::duration rewrite_spacing(std::chrono::milliseconds interval,
                                                    std::chrono::steady_clock::duration last_cost,
                                                    std::uint64_t last_bytes, double bytes_per_second);

struct ReportSetup {
  std::optional<std::string> json_path, junit_path, html_path;
  std::optional<std::string> partition;   // "2/4"
  std::vector<std::string> command_line;  // for RunReport::command_line
  // --baseline: every rewrite compares with it (RunReport::baseline).
  std::optional<RunReport> baseline;
  std::string baseline_source;
  SlowdownRule slowdown;
  // How many stop signals (Ctrl-C, SIGTERM, SIGHUP) have come so far. Once
  // it differs from its value when the ReportFiles was made, a rewrite that
  // is not the last gives up (one in progress between two batches, a later
  // one before it starts): the final write follows and replaces it, and a
  // stop never waits for a 60 MB rewrite -- nor starts another one while it
  // writes off the queue. The final writes are never abandoned.
  std::function<std::uint64_t()> stop_count = stop_signals_received;
  // The run's warnings before the files were made (ReportedWarnings).
  std::vector<std::string> warnings;
};

class ReportFiles final : public Reporter {
 public:
  // `time`: the clock and the deferred flush's timer (unset: the steady
  // clock, a timer on `io`); tests give one they move themselves.
  ReportFiles(boost::asio::io_context& io, ReportSetup setup,
              std::chrono::milliseconds interval = std::chrono::milliseconds(250), TimeSource* time = nullptr);

  void on_plan(const std::vector<TestCase>& tests) override;
  void on_result(const TestResult& result) override;
  void on_finish(const std::vector<TestResult>& results, double seconds, bool interrupted) override;
  // Kept in RunReport::warnings, written with the next rewrite.
  void on_warning(const std::string& message) override;
  // No tests will run (the listing failed or was interrupted): the files say
  // why, and that the run did not complete.
  void finish_without_tests(const std::string& why, bool interrupted);
  // After on_finish: the run did not end as a run should (a bug in xrun
  // stopped it), so the files say it is not complete, and why.
  void mark_incomplete(const std::string& why);

  // The run as the files last said it.
  const RunReport& report() const { return report_; }
  // How many times the files were rewritten (for tests of the schedule).
  std::size_t writes() const { return writes_; }
  // How many times a test was encoded, all formats together (for tests of
  // the work a rewrite does: a result is encoded once per format).
  std::size_t encodings() const { return encodings_ + html_.encodings(); }
  // Bytes written to the files so far (abandoned rewrites not counted).
  std::uint64_t bytes_written() const { return bytes_written_; }
  // How many rewrites a stop signal made give up.
  std::size_t abandoned_writes() const { return abandoned_writes_; }

  static constexpr double kRewriteBytesPerSecond = 16.0 * 1024 * 1024;
  // The first write error, if any (reported once, at the end).
  const std::optional<std::string>& error() const { return error_; }

 private:
  enum class Rewrite { Abandonable, Final };
  void write(Rewrite kind = Rewrite::Abandonable);
  // A rewrite `wait` from now, unless one is already due.
  void flush_after(std::chrono::steady_clock::duration wait);
  void cancel_flush();
  // The result at `index` changed: its pieces are encoded again.
  void encode(std::size_t index);
  // report_.tests[index] becomes `result`: respelled when only its message
  // changed (EncodedTest), else encoded again; nothing when it is the same.
  void update(std::size_t index, const TestResult& result);
  // Whether a stop signal came since this was made (ReportSetup::stop_count).
  bool stop_came() const;
  // The text of `entries` written from their template, into `buffer`; false
  // when `stop_came` (asked every few thousand tests) said to give up.
  bool fill_from_templates(std::vector<EncodedTest>& entries, std::string& buffer,
                           void (*from_template)(std::string&, const TestResult&),
                           const std::function<bool()>& stop_came);

  ReportSetup setup_;
  RunReport report_;
  HtmlReportWriter html_;
  std::chrono::steady_clock::time_point start_, last_write_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::duration last_cost_{0};  // of the last rewrite
  std::uint64_t last_bytes_ = 0;                      // of the last rewrite
  // Per test, in report_.tests' order: its JSON entry, its JUnit element,
  // and a version that changes with it (the HTML writer keeps its rows by it).
  std::vector<EncodedTest> json_entries_, junit_testcases_;
  // The text of the entries written from their templates, per format.
  std::string json_from_templates_, junit_from_templates_;
  std::vector<std::size_t> template_offsets_;
  // Each message a respelled test has, encoded for JSON and for JUnit, once
  // (a stop gives tens of thousands of tests the same one).
  std::map<std::string, std::pair<std::string, std::string>, std::less<>> respellings_;
  std::vector<std::uint64_t> versions_;
  std::uint64_t next_version_ = 1;
  std::size_t encodings_ = 0;
  std::uint64_t bytes_written_ = 0;
  std::unique_ptr<TimeSource> own_time_;  // when none was given
  TimeSource& time_;
  std::unique_ptr<TimeSource::Timer> flush_;
  // The index of each test in report_.tests, found by binary and name (the
  // keys are report_.tests' own strings: a plan of 100,000 tests is not
  // copied again into a tree).
  struct ByKey {
    using is_transparent = void;
    const std::vector<TestResult>* tests;
    TestKeyView key(std::size_t i) const { return {(*tests)[i].binary, (*tests)[i].name}; }
    std::size_t operator()(TestKeyView key) const;
    std::size_t operator()(std::size_t i) const { return (*this)(key(i)); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return as_key(a) == as_key(b);
    }
    TestKeyView as_key(std::size_t i) const { return key(i); }
    TestKeyView as_key(TestKeyView k) const { return k; }
  };
  std::unordered_set<std::size_t, ByKey, ByKey> position_;
  bool flush_pending_ = false;
  std::optional<std::string> error_;
  std::size_t writes_ = 0;
  std::size_t abandoned_writes_ = 0;
  std::uint64_t stops_at_start_ = 0;  // setup_.stop_count() when made
};

}  // namespace xrun
