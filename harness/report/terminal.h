// What `xrun test` prints. On a terminal: a live progress line (done/total,
// failures so far, the slowest running test) with failures printed above it
// as they happen. Otherwise: one plain line per finished test. At the end:
// each failure with its output, and a summary table. Colour only on a
// terminal, never with NO_COLOR.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <map>

#include "engine/reporter.h"

namespace xrun {

// Text from a test (its name, its output) made safe for the user's terminal:
// newlines and tabs stay, colour sequences (SGR) stay when `keep_colors` and
// are dropped otherwise, and every other control byte or escape sequence is
// shown as \xNN, never interpreted (no cursor moves, no titles, nothing cut
// at a NUL).
std::string terminal_safe(std::string_view text, bool keep_colors);

class TerminalReporter final : public Reporter {
 public:
  // `io` drives the progress line's refresh on a terminal.
  TerminalReporter(boost::asio::io_context& io, std::FILE* out, bool interactive, bool color);

  void on_plan(const std::vector<TestCase>& tests) override;
  void on_test_started(const TestCase& test) override;
  void on_result(const TestResult& result) override;
  void on_finish(const std::vector<TestResult>& results, double seconds, bool interrupted) override;

 private:
  void draw_progress();
  void clear_progress();
  void tick();
  std::string paint(std::string_view text, const char* code) const;
  std::string result_line(const TestResult& result) const;

  boost::asio::steady_timer timer_;
  std::FILE* out_;
  bool interactive_, color_;
  std::size_t total_ = 0, done_ = 0, failures_ = 0;
  std::map<std::string, std::chrono::steady_clock::time_point> running_;
  bool progress_shown_ = false;
  bool finished_ = false;
};

}  // namespace xrun
