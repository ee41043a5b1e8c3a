// What `xrun test` prints. On a terminal: a live progress line (done/total,
// failures so far, the slowest running test) with failures printed above it
// as they happen. Otherwise: one plain line per finished test. Either way, a
// test still running after `slow_seconds` gets a SLOW line (again at each
// multiple), as nextest's slow-timeout does. At the end: each failure with
// its output, the slowest tests, what changed since the baseline, and a
// summary table. Colour only on a terminal, never with NO_COLOR.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>

#include "core/time_source.h"
#include "engine/reporter.h"
#include "report/baseline.h"

namespace xrun {

// Text from a test (its name, its output) made safe for the user's terminal:
// newlines and tabs stay, colour sequences (SGR) stay when `keep_colors` and
// are dropped otherwise, and every other control byte or escape sequence is
// shown as \xNN, never interpreted (no cursor moves, no titles, nothing cut
// at a NUL).
std::string terminal_safe(std::string_view text, bool keep_colors);

struct TerminalOptions {
  bool interactive = false;  // a terminal: the progress line
  bool color = false;
  std::optional<double> slow_seconds = 60;
  std::size_t slowest = 0;              // the summary lists this many of the slowest tests
  const RunReport* baseline = nullptr;  // --baseline: the summary says what changed
  std::string baseline_source;
  SlowdownRule slowdown;
};

class TerminalReporter final : public Reporter {
 public:
  // `io` drives the progress line's refresh and the SLOW lines, on `time`
  // (core/time_source.h; the steady clock when none is given).
  TerminalReporter(boost::asio::io_context& io, std::FILE* out, TerminalOptions options, TimeSource* time = nullptr);

  void on_plan(const std::vector<TestCase>& tests) override;
  void on_test_started(const TestCase& test) override;
  void on_result(const TestResult& result) override;
  void on_finish(const std::vector<TestResult>& results, double seconds, bool interrupted) override;
  // "xrun: warning: MESSAGE" on stderr, as print_warning says it, above the progress line.
  void on_warning(const std::string& message) override;

 private:
  void draw_progress();
  void clear_progress();
  void tick();
  void report_slow_tests();
  void print_slowest(const std::vector<TestResult>& results);
  void print_comparison(const BaselineComparison& comparison);
  std::string paint(std::string_view text, const char* code) const;
  std::string result_line(const TestResult& result) const;

  struct RunningTest {
    std::string shown;  // display_name()
    TimeSource::Clock::time_point since;
    int slow_periods = 0;  // SLOW lines printed so far
  };

  std::unique_ptr<TimeSource> own_time_;  // when none was given
  TimeSource& time_;
  std::unique_ptr<TimeSource::Timer> timer_;
  std::FILE* out_;
  TerminalOptions options_;
  bool interactive_, color_;
  std::size_t total_ = 0, done_ = 0, failures_ = 0;
  std::map<std::pair<std::string, std::string>, RunningTest, ByBinaryAndName> running_;  // by (binary, name)
  bool progress_shown_ = false;
  bool finished_ = false;
};

}  // namespace xrun
