#include "report/terminal.h"

#include <algorithm>
#include <sstream>

#include "core/diagnostics.h"
#include "report/report.h"

namespace xrun {

namespace {

const char* status_label(Status status) {
  switch (status) {
    case Status::Passed:
      return "PASS";
    case Status::Failed:
      return "FAIL";
    case Status::Crashed:
      return "CRASH";
    case Status::TimedOut:
      return "TIMEOUT";
    case Status::Skipped:
      return "SKIP";
    case Status::Flaky:
      return "FLAKY";
    case Status::InfraError:
      return "INFRA";
    case Status::NotRun:
      return "NOTRUN";
  }
  return "?";
}

const char* status_color(Status status) {
  switch (status) {
    case Status::Passed:
      return "32";
    case Status::Skipped:
    case Status::NotRun:
      return "33";
    case Status::Flaky:
      return "35";
    case Status::InfraError:
      return "36";
    default:
      return "1;31";
  }
}

std::string display_name(const std::string& binary, const std::string& name) {
  return terminal_safe(binary.substr(binary.rfind('/') + 1) + " " + name, false);
}

void hex_byte(std::string& out, unsigned char c) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += "\\x";
  out += kDigits[c >> 4];
  out += kDigits[c & 15];
}

}  // namespace

std::string terminal_safe(std::string_view text, bool keep_colors) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f)) {
      out += static_cast<char>(c);
      continue;
    }
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;  // CRLF line ends
    if (c == 0x1b && i + 1 < text.size() && text[i + 1] == '[') {
      // CSI: parameter bytes, then one final byte; "m" is colour (SGR).
      std::size_t end = i + 2;
      while (end < text.size() && static_cast<unsigned char>(text[end]) >= 0x20 &&
             static_cast<unsigned char>(text[end]) < 0x40)
        ++end;
      if (end < text.size() && text[end] == 'm') {
        if (keep_colors) out.append(text.substr(i, end - i + 1));
        i = end;
        continue;
      }
    }
    hex_byte(out, c);
  }
  return out;
}

TerminalReporter::TerminalReporter(boost::asio::io_context& io, std::FILE* out, TerminalOptions options,
                                   TimeSource* time)
    : own_time_(time ? nullptr : steady_time(io)),
      time_(time ? *time : *own_time_),
      timer_(time_.make_timer()),
      out_(out),
      options_(std::move(options)),
      interactive_(options_.interactive),
      color_(options_.color) {}

std::string TerminalReporter::paint(std::string_view text, const char* code) const {
  if (!color_) return std::string(text);
  return "\033[" + std::string(code) + "m" + std::string(text) + "\033[0m";
}

std::string TerminalReporter::result_line(const TestResult& r) const {
  char head[64];
  std::snprintf(head, sizeof head, "%8s [%8.3fs] ", status_label(r.status), r.duration_seconds);
  std::string line = paint(head, status_color(r.status)) + display_name(r.binary, r.name);
  if (!r.message.empty() && r.status != Status::Passed) line += " (" + terminal_safe(r.message, false) + ")";
  return line;
}

void TerminalReporter::on_plan(const std::vector<TestCase>& tests) {
  total_ = tests.size();
  std::fprintf(out_, "xrun: running %zu tests\n", total_);
  if (interactive_ || options_.slow_seconds) tick();
  std::fflush(out_);
}

void TerminalReporter::tick() {
  timer_->start(std::chrono::milliseconds(200), [this] {
    if (finished_) return;
    report_slow_tests();
    draw_progress();
    tick();
  });
}

void TerminalReporter::on_test_started(const TestCase& test) {
  running_[{test.binary, test.name}] = {display_name(test.binary, test.name), time_.now(), 0};
}

void TerminalReporter::report_slow_tests() {
  if (!options_.slow_seconds) return;
  const auto now = time_.now();
  for (auto& [key, test] : running_) {
    const double seconds = std::chrono::duration<double>(now - test.since).count();
    const int periods = static_cast<int>(seconds / *options_.slow_seconds);
    if (periods <= test.slow_periods) continue;
    test.slow_periods = periods;
    char head[64];
    std::snprintf(head, sizeof head, "%8s [>%7.3fs] ", "SLOW", periods * *options_.slow_seconds);
    clear_progress();
    std::fprintf(out_, "%s%s\n", paint(head, "33").c_str(), test.shown.c_str());
    std::fflush(out_);
  }
}

void TerminalReporter::on_result(const TestResult& result) {
  if (auto it = running_.find(TestKeyView(result.binary, result.name)); it != running_.end()) running_.erase(it);
  ++done_;
  // What a stop (Ctrl-C, --fail-fast) left unrun is counted in the summary
  // and listed in the reports: a line each would be tens of thousands of
  // lines, and seconds, when a big run is cancelled.
  if (result.status == Status::NotRun) {
    if (interactive_) draw_progress();
    return;
  }
  if (is_test_failure(result.status) || result.status == Status::InfraError) ++failures_;
  if (interactive_) {
    // On a terminal only what needs attention scrolls by; the rest is the progress line.
    if (result.status != Status::Passed && result.status != Status::Skipped) {
      clear_progress();
      std::fprintf(out_, "%s\n", result_line(result).c_str());
    }
    draw_progress();
  } else {
    std::fprintf(out_, "%s\n", result_line(result).c_str());
  }
  std::fflush(out_);
}

void TerminalReporter::on_warning(const std::string& message) {
  clear_progress();
  std::fflush(out_);
  print_warning(message);
  if (interactive_) draw_progress();
}

void TerminalReporter::clear_progress() {
  if (progress_shown_) std::fputs("\r\033[K", out_);
  progress_shown_ = false;
}

void TerminalReporter::draw_progress() {
  if (!interactive_ || finished_) return;
  std::string slowest;
  double slowest_seconds = -1;
  const auto now = time_.now();
  for (const auto& [key, test] : running_) {
    const double seconds = std::chrono::duration<double>(now - test.since).count();
    if (seconds > slowest_seconds) slowest_seconds = seconds, slowest = test.shown;
  }
  char line[512];
  std::snprintf(line, sizeof line, "[%zu/%zu] %zu failed, %zu running%s%s", done_, total_, failures_, running_.size(),
                slowest.empty() ? "" : "; slowest: ", slowest.empty() ? "" : slowest.substr(0, 200).c_str());
  std::string text = line;
  if (!slowest.empty()) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, " (%.1fs)", slowest_seconds);
    text += seconds;
  }
  std::fputs("\r\033[K", out_);
  std::fputs(text.c_str(), out_);
  progress_shown_ = true;
  std::fflush(out_);
}

void TerminalReporter::on_finish(const std::vector<TestResult>& results, double seconds, bool interrupted) {
  finished_ = true;
  timer_->cancel();
  clear_progress();
  bool header = false;
  for (const auto& r : results) {
    if (!is_test_failure(r.status) && r.status != Status::InfraError) continue;
    if (!header) std::fprintf(out_, "\n%s\n", paint("Failures:", "1").c_str());
    header = true;
    std::fprintf(out_, "\n--- %s ---\n", result_line(r).c_str());
    std::string output = terminal_safe(r.output, color_);
    if (!output.empty() && output.back() != '\n') output += '\n';
    std::fwrite(output.data(), 1, output.size(), out_);
  }
  print_slowest(results);
  if (options_.baseline)
    print_comparison(compare_with_baseline(results, *options_.baseline, options_.baseline_source, options_.slowdown));
  const auto counts = summarize(results);
  char title[96];
  std::snprintf(title, sizeof title, "Summary%s, %.2fs:", interrupted ? " (interrupted)" : "", seconds);
  std::fprintf(out_, "\n%s\n", paint(title, "1").c_str());
  for (const char* status :
       {"passed", "failed", "crashed", "timed-out", "flaky", "skipped", "infra-error", "not-run"}) {
    if (counts.at(status) == 0 && std::string_view(status) != "passed" && std::string_view(status) != "failed")
      continue;
    std::fprintf(out_, "  %-12s %6zu\n", status, counts.at(status));
  }
  std::fprintf(out_, "  %-12s %6zu\n", "total", counts.at("total"));
  std::fprintf(out_, "%s\n", verdict_line(results).c_str());
  std::fflush(out_);
}

void TerminalReporter::print_slowest(const std::vector<TestResult>& results) {
  if (options_.slowest == 0) return;
  std::vector<const TestResult*> ran;
  for (const auto& r : results)
    if (r.status != Status::NotRun && r.status != Status::Skipped) ran.push_back(&r);
  if (ran.empty()) return;
  const std::size_t shown = std::min(options_.slowest, ran.size());
  std::partial_sort(ran.begin(), ran.begin() + static_cast<std::ptrdiff_t>(shown), ran.end(),
                    [](const TestResult* a, const TestResult* b) { return a->duration_seconds > b->duration_seconds; });
  std::fprintf(out_, "\n%s\n", paint("Slowest " + std::to_string(shown) + ":", "1").c_str());
  for (std::size_t i = 0; i < shown; ++i)
    std::fprintf(out_, "  %9.3fs  %s\n", ran[i]->duration_seconds, display_name(ran[i]->binary, ran[i]->name).c_str());
}

void TerminalReporter::print_comparison(const BaselineComparison& c) {
  const auto count = [](std::size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  std::string title =
      "Compared with " + terminal_safe(c.source, false) + (c.started_at.empty() ? "" : " (" + c.started_at + ")") + ":";
  std::fprintf(out_, "\n%s %s, %s, %s, %s, %s, %s\n", paint(title, "1").c_str(),
               count(c.new_failures.size(), "new failure", "new failures").c_str(),
               count(c.fixed.size(), "fixed", "fixed").c_str(),
               count(c.still_failing.size(), "still failing", "still failing").c_str(),
               count(c.new_tests.size(), "new test", "new tests").c_str(),
               count(c.removed_tests.size(), "removed", "removed").c_str(),
               count(c.slower.size(), "slower", "slower").c_str());
  // What needs attention, a screenful at most; the HTML and JSON reports list all.
  constexpr std::size_t kShown = 10;
  const auto list = [&](const char* label, const std::vector<ComparedTest>& tests, const char* color, bool durations) {
    for (std::size_t i = 0; i < tests.size() && i < kShown; ++i) {
      const auto& t = tests[i];
      std::string line = display_name(t.binary, t.name);
      char detail[96];
      if (durations)
        std::snprintf(detail, sizeof detail, " (%.3fs -> %.3fs)", t.before_seconds, t.seconds);
      else
        std::snprintf(detail, sizeof detail, " (%s -> %s)", t.before.empty() ? "new" : t.before.c_str(),
                      t.status.c_str());
      std::fprintf(out_, "  %s %s%s\n", paint(label, color).c_str(), line.c_str(), detail);
    }
    if (tests.size() > kShown) std::fprintf(out_, "  ... and %zu more %s\n", tests.size() - kShown, label);
  };
  list("new failure:", c.new_failures, "1;31", false);
  list("fixed:", c.fixed, "32", false);
  list("slower:", c.slower, "33", true);
}

}  // namespace xrun
