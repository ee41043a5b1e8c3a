#include "engine/harness_stream.h"

#include <algorithm>
#include <vector>

#include "engine/harness_catch2.h"
#include "engine/harness_doctest.h"
#include "engine/harness_xml_stream.h"
#include "engine/line_stream.h"

namespace xrun {

namespace {

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// GoogleTest's default printer.
class GTestStream final : public LineStream {
 public:
  GTestStream(StreamEvents events, std::vector<std::string> expected)
      : LineStream(std::move(events)), expected_(std::move(expected)) {}
  bool ambiguous() const override { return ambiguous_; }

 private:
  void on_line(std::string_view line, bool had_newline) override {
    static constexpr std::string_view kRun = "[ RUN      ] ";
    static constexpr std::string_view kOk = "[       OK ] ";
    static constexpr std::string_view kFailed = "[  FAILED  ] ";
    static constexpr std::string_view kSkipped = "[  SKIPPED ] ";
    if (ambiguous_) {
      emit_output(current_, line, had_newline);
      return;
    }
    if (starts_with(line, kRun) && line.size() > kRun.size()) {  // a RUN line of no name is output
      const std::string name(line.substr(kRun.size()));
      // GoogleTest never starts a test before the last one's result line:
      // inside a test this is the test's own output (a nested run), unless
      // it names the running test itself, after which its verdict lines
      // cannot be trusted.
      if (!current_.empty()) {
        if (name == current_) nested_same_ = true;
        emit_output(current_, line, had_newline);
        return;
      }
      if (!expected_.empty() && (next_ >= expected_.size() || expected_[next_] != name)) {
        // Another of ours out of order (a shuffle?), or a name we did not ask for.
        if (std::find(expected_.begin() + static_cast<std::ptrdiff_t>(next_), expected_.end(), name) != expected_.end())
          ambiguous_ = true;
        emit_output(current_, line, had_newline);
        return;
      }
      ++next_;
      nested_same_ = false;
      start_test(name);
      emit_output(current_, line, had_newline);
      return;
    }
    // A result line names the running test first; the summary at the end
    // repeats "[  FAILED  ] Name" lines, which must not count twice.
    for (const auto& [prefix, verdict] : {std::pair{kOk, Verdict::Passed}, std::pair{kFailed, Verdict::Failed},
                                          std::pair{kSkipped, Verdict::Skipped}}) {
      if (!current_.empty() && starts_with(line, prefix) && names_current(line.substr(prefix.size()))) {
        emit_output(current_, line, had_newline);
        if (nested_same_) {
          ambiguous_ = true;  // its own verdict, or the nested run's?
          return;
        }
        finish_test(verdict);
        return;
      }
    }
    emit_output(current_, line, had_newline);
  }

  std::vector<std::string> expected_;
  std::size_t next_ = 0;
  bool nested_same_ = false;
  bool ambiguous_ = false;

  // "Name (3 ms)" or "Name, where GetParam() = 2 (3 ms)".
  bool names_current(std::string_view rest) const {
    if (!starts_with(rest, current_)) return false;
    rest.remove_prefix(current_.size());
    return rest.empty() || rest[0] == ' ' || rest[0] == ',';
  }
};

// Rust's libtest, pretty format, --test-threads=1.
class LibtestStream final : public LineStream {
 public:
  LibtestStream(StreamEvents events, std::vector<std::string> expected)
      : LineStream(std::move(events)), expected_(std::move(expected)) {}
  bool ambiguous() const override { return ambiguous_; }

 private:
  static constexpr std::string_view kTest = "test ";
  static constexpr std::string_view kDots = " ... ";

  // "test a::b ... " (the test is running) or "test a::b - should panic ... ".
  static std::optional<std::string> started_name(std::string_view line) {
    if (!starts_with(line, kTest)) return std::nullopt;
    const auto dots = line.find(kDots);
    if (dots == std::string_view::npos) return std::nullopt;
    std::string_view name = line.substr(kTest.size(), dots - kTest.size());
    static constexpr std::string_view kShouldPanic = " - should panic";
    if (name.size() > kShouldPanic.size() && name.substr(name.size() - kShouldPanic.size()) == kShouldPanic)
      name.remove_suffix(kShouldPanic.size());
    return std::string(name);
  }

  // libtest prints "test x ... " only between tests: inside one, it is that
  // test's output (a child process writing to the same stdout, another
  // libtest run among them), and later, in the failures section, a test's
  // captured output. With `expected`, only the next of them starts (the
  // order libtest runs them in, sorted as it listed them); another of them
  // between tests cannot be placed: ambiguous, as for GoogleTest.
  bool takes_start(const std::string& name) {
    if (!current_.empty() || name.empty()) return false;
    if (expected_.empty()) return true;
    if (next_ < expected_.size() && expected_[next_] == name) {
      ++next_;
      return true;
    }
    if (std::find(expected_.begin() + static_cast<std::ptrdiff_t>(next_), expected_.end(), name) != expected_.end())
      ambiguous_ = true;
    return false;
  }

  void on_partial(std::string_view partial) override {
    // The start line has no newline until the test ends: that is how we know
    // which test is running (and which one a crash or hang belongs to).
    if (current_.empty() && !ambiguous_ && partial.size() >= kDots.size() &&
        partial.substr(partial.size() - kDots.size()) == kDots) {
      if (auto name = started_name(partial); name && takes_start(*name)) start_test(*name);
    }
  }

  void on_line(std::string_view line, bool had_newline) override {
    if (auto name = started_name(line); name && !ambiguous_) {
      if (current_.empty() && takes_start(*name)) start_test(*name);
      if (!current_.empty() && current_ == *name) {
        // Output the test printed without capture lands between "..." and the verdict.
        emit_output(current_, line, had_newline);
        std::string_view verdict = line.substr(line.find(kDots) + kDots.size());
        if (verdict == "ok")
          finish_test(Verdict::Passed);
        else if (verdict == "FAILED")
          finish_test(Verdict::Failed);
        else if (starts_with(verdict, "ignored"))
          finish_test(Verdict::Skipped);
        return;
      }
      // Not a test of this run starting: output like any other line.
    }
    // "---- a::b stdout ----" opens a failed test's captured output.
    if (starts_with(line, "---- ") && line.size() > 16 && line.substr(line.size() - 12) == " stdout ----") {
      failure_section_ = std::string(line.substr(5, line.size() - 5 - 12));
      emit_output(failure_section_, line, had_newline);
      return;
    }
    if (line == "failures:" || starts_with(line, "test result: ")) failure_section_.clear();
    const std::string& owner = !current_.empty() ? current_ : failure_section_;
    emit_output(owner, line, had_newline);
  }

  std::vector<std::string> expected_;
  std::size_t next_ = 0;
  bool ambiguous_ = false;
  std::string failure_section_;
};

class PlainStream final : public LineStream {
 public:
  PlainStream(StreamEvents events) : LineStream(std::move(events)) {}
  void feed(std::string_view bytes) override {
    if (events_.output) events_.output(current_, bytes);
  }
  void finish() override {}

 private:
  void on_line(std::string_view, bool) override {}
};

}  // namespace

std::unique_ptr<HarnessStream> make_harness_stream(TestKind kind, StreamEvents events,
                                                   std::vector<std::string> expected) {
  switch (kind) {
    case TestKind::GTest:
      return std::make_unique<GTestStream>(std::move(events), std::move(expected));
    case TestKind::Libtest:
      return std::make_unique<LibtestStream>(std::move(events), std::move(expected));
    case TestKind::Catch2:
      return make_xml_reporter_stream(XmlDialect::Catch2, std::move(events), std::move(expected));
    case TestKind::Doctest:
      return make_xml_reporter_stream(XmlDialect::Doctest, std::move(events), std::move(expected));
    case TestKind::Plain:
      break;
  }
  return std::make_unique<PlainStream>(std::move(events));
}

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    lines.push_back(text.substr(0, newline));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  return lines;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string joined(const std::vector<std::string_view>& lines) {
  std::string out;
  for (auto line : lines) {
    if (!out.empty()) out += '\n';
    out.append(line);
  }
  return out;
}

}  // namespace

std::string failure_text(TestKind kind, std::string_view output) {
  const auto lines = split_lines(output);
  std::vector<std::string_view> kept;
  switch (kind) {
    case TestKind::GTest: {
      // From the first "path:line: Failure" (or "unknown file: Failure" for
      // an exception) to the end, without the harness's own lines.
      bool in_failure = false;
      for (auto line : lines) {
        if (!in_failure && ends_with(line, ": Failure")) in_failure = true;
        if (!in_failure || starts_with(line, "[  FAILED  ] ") || starts_with(line, "[ RUN      ] ")) continue;
        kept.push_back(line);
      }
      break;
    }
    case TestKind::Libtest: {
      // "thread 'name' panicked at ..." and what follows it, up to the hint
      // about backtraces or the end of the test's captured output.
      bool in_panic = false;
      for (auto line : lines) {
        if (starts_with(line, "thread '") && line.find("' panicked at") != std::string_view::npos) in_panic = true;
        if (!in_panic) continue;
        if (starts_with(line, "note: run with `RUST_BACKTRACE") || starts_with(line, "---- ") || line == "failures:" ||
            starts_with(line, "test result: "))
          break;
        kept.push_back(line);
      }
      while (!kept.empty() && kept.back().empty()) kept.pop_back();
      break;
    }
    case TestKind::Catch2:
    case TestKind::Doctest:
      return xml_failure_text(output);
    case TestKind::Plain:
      break;
  }
  return joined(kept);
}

std::vector<std::string> harness_arguments(TestKind kind, const std::vector<std::string>& names) {
  std::vector<std::string> args;
  switch (kind) {
    case TestKind::GTest: {
      std::string filter = "--gtest_filter=";
      for (std::size_t i = 0; i < names.size(); ++i) filter += (i ? ":" : "") + names[i];
      args = {filter, "--gtest_color=no"};
      break;
    }
    case TestKind::Libtest:
      args = {"--test-threads=1", "--exact", "--color=never"};
      args.insert(args.end(), names.begin(), names.end());
      break;
    case TestKind::Catch2:
      args = catch2_arguments(names);
      break;
    case TestKind::Doctest:
      args = doctest_arguments(names);
      break;
    case TestKind::Plain:
      break;
  }
  return args;
}

}  // namespace xrun
