#include "report/github.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <regex>

#include "report/baseline.h"

namespace xrun {

namespace {

// GitHub's escaping for a workflow command's message and its properties.
std::string escape_data(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%')
      out += "%25";
    else if (c == '\r')
      out += "%0D";
    else if (c == '\n')
      out += "%0A";
    else
      out += c;
  }
  return out;
}

std::string escape_property(std::string_view text) {
  std::string out;
  for (char c : escape_data(text)) {
    if (c == ':')
      out += "%3A";
    else if (c == ',')
      out += "%2C";
    else
      out += c;
  }
  return out;
}

std::string short_binary(const std::string& binary) { return binary.substr(binary.rfind('/') + 1); }

// Markdown text outside code: nothing in a test's name may become markup.
std::string markdown_text(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '|' || c == '*' || c == '_' || c == '`' || c == '[' || c == ']' || c == '\\' || c == '#') {
      out += '\\';
      out += c;
    } else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

// A fenced block whose fence is longer than any run of backticks inside.
std::string code_block(std::string_view text) {
  std::size_t longest = 0, run = 0;
  for (char c : text) run = c == '`' ? run + 1 : 0, longest = std::max(longest, run);
  const std::string fence(std::max<std::size_t>(3, longest + 1), '`');
  std::string body(text);
  if (!body.empty() && body.back() != '\n') body += '\n';
  return fence + "text\n" + body + fence + "\n";
}

std::string clip(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "\n[... cut: the HTML or JSON report has all of it ...]";
}

}  // namespace

std::optional<SourceLocation> failure_location(const TestResult& test) {
  // Source files only: a path to a data file or a binary is not where a test failed.
  static const std::regex kPanicked(R"(panicked at (?:'[^\n]*', )?([^\s:'"]+\.rs):(\d+)(?::\d+)?)");
  static const std::regex kGTest(R"((?:^|\n)([^\s:]+):(\d+): (?:Failure|error))");
  static const std::regex kAnySource(R"(([A-Za-z0-9_./+-]+\.(?:c|cc|cpp|cxx|c\+\+|h|hh|hpp|hxx|rs|go|zig)):(\d+))");
  for (const std::string* text : {&test.failure, &test.output}) {
    if (text->empty()) continue;
    // The first 64 KiB are enough to find it, and bound the regex's work.
    const std::string head = text->substr(0, 64 * 1024);
    std::smatch m;
    if (std::regex_search(head, m, kPanicked) || std::regex_search(head, m, kGTest))
      return SourceLocation{m[1].str(), std::atoi(m[2].str().c_str())};
    if (std::regex_search(head, m, kAnySource)) return SourceLocation{m[1].str(), std::atoi(m[2].str().c_str())};
  }
  return std::nullopt;
}

std::string workflow_annotation(const TestResult& test, const SourceLocation& where, const std::string& workspace) {
  std::string file = where.file;
  if (!workspace.empty()) {
    const std::string prefix = workspace.back() == '/' ? workspace : workspace + "/";
    if (file.rfind(prefix, 0) == 0) file.erase(0, prefix.size());
  }
  const std::string title = short_binary(test.binary) + " " + test.name + " " + std::string(status_name(test.status));
  const std::string message = clip(!test.failure.empty() ? test.failure : test.message, 4096);
  return "::error file=" + escape_property(file) + ",line=" + std::to_string(where.line) +
         ",title=" + escape_property(title) + "::" + escape_data(message) + "\n";
}

std::string step_summary_markdown(const RunReport& report, std::size_t slowest) {
  const auto counts = summarize(report.tests);
  const std::size_t failing =
      counts.at("failed") + counts.at("crashed") + counts.at("timed-out") + counts.at("infra-error");
  std::string md = "## xrun test: " + (failing ? std::to_string(failing) + " failed" : std::string("all passed")) +
                   " of " + std::to_string(counts.at("total")) + " tests" +
                   (report.partition ? " (partition " + *report.partition + ")" : "") + "\n\n";
  md += "| passed | failed | crashed | timed out | flaky | infra error | skipped | not run | wall time |\n";
  md += "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  char wall[32];
  std::snprintf(wall, sizeof wall, "%.1f s", report.duration_seconds);
  for (const char* status : {"passed", "failed", "crashed", "timed-out", "flaky", "infra-error", "skipped", "not-run"})
    md += "| " + std::to_string(counts.at(status)) + " ";
  md += "| " + std::string(wall) + " |\n\n";
  if (report.interrupted) md += "**The run was interrupted**: unfinished tests did not run.\n\n";

  // Failures, each with its assertion, within GitHub's 1 MiB for a step.
  constexpr std::size_t kBudget = 900 * 1024;
  std::size_t listed = 0, left_out = 0;
  for (const auto& t : report.tests) {
    if (!fails_for_comparison(t.status)) continue;
    if (listed == 0) md += "### Failures\n\n";
    std::string entry = "<details><summary><code>" + markdown_text(short_binary(t.binary) + " " + t.name) + "</code> " +
                        std::string(status_name(t.status)) + ": " + markdown_text(t.message) + "</summary>\n\n";
    entry += code_block(clip(!t.failure.empty() ? t.failure : t.output, 4096)) + "\n</details>\n\n";
    if (md.size() + entry.size() > kBudget) {
      ++left_out;
      continue;
    }
    md += entry;
    ++listed;
  }
  if (left_out) md += std::to_string(left_out) + " more failures are in the HTML and JSON reports.\n\n";

  if (report.baseline) {
    const auto& b = *report.baseline;
    md += "### Since " + markdown_text(b.source) + "\n\n";
    md += std::to_string(b.new_failures.size()) + " new failures, " + std::to_string(b.fixed.size()) + " fixed, " +
          std::to_string(b.still_failing.size()) + " still failing, " + std::to_string(b.new_tests.size()) +
          " new tests, " + std::to_string(b.removed_tests.size()) + " removed, " + std::to_string(b.slower.size()) +
          " slower.\n\n";
    for (const auto& t : b.new_failures) {
      if (md.size() > kBudget) break;
      md += "- new failure: `" + markdown_text(short_binary(t.binary) + " " + t.name) + "` (" +
            (t.before.empty() ? "new" : t.before) + " → " + t.status + ")\n";
    }
    md += "\n";
  }

  std::vector<const TestResult*> ran;
  for (const auto& t : report.tests)
    if (t.status != Status::NotRun && t.status != Status::Skipped) ran.push_back(&t);
  const std::size_t shown = std::min(slowest, ran.size());
  if (shown > 0 && md.size() < kBudget) {
    std::partial_sort(
        ran.begin(), ran.begin() + static_cast<std::ptrdiff_t>(shown), ran.end(),
        [](const TestResult* a, const TestResult* b) { return a->duration_seconds > b->duration_seconds; });
    md += "### Slowest " + std::to_string(shown) + "\n\n| test | duration | ran on |\n|---|---:|---|\n";
    for (std::size_t i = 0; i < shown; ++i) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.3f s", ran[i]->duration_seconds);
      std::string where = ran[i]->backend;
      if (!ran[i]->target.empty()) where += " · " + ran[i]->target;
      if (!ran[i]->machine.empty()) where += " · " + ran[i]->machine;
      md += "| " + markdown_text(short_binary(ran[i]->binary) + " " + ran[i]->name) + " | " + seconds + " | " +
            markdown_text(where) + " |\n";
    }
    md += "\n";
  }
  return md;
}

std::optional<std::string> publish_to_github_actions(const RunReport& report, std::FILE* out, std::size_t slowest) {
  const char* actions = std::getenv("GITHUB_ACTIONS");
  if (!actions || std::string_view(actions) != "true") return std::nullopt;
  const char* workspace = std::getenv("GITHUB_WORKSPACE");
  for (const auto& t : report.tests) {
    if (!fails_for_comparison(t.status)) continue;
    if (auto where = failure_location(t)) {
      const std::string command = workflow_annotation(t, *where, workspace ? workspace : "");
      std::fwrite(command.data(), 1, command.size(), out);
    }
  }
  std::fflush(out);
  const char* summary_path = std::getenv("GITHUB_STEP_SUMMARY");
  if (!summary_path || !*summary_path) return std::nullopt;
  std::FILE* summary = std::fopen(summary_path, "a");
  if (!summary) return "GITHUB_STEP_SUMMARY=" + std::string(summary_path) + ": cannot append the run's summary";
  const std::string md = step_summary_markdown(report, slowest);
  const bool written = std::fwrite(md.data(), 1, md.size(), summary) == md.size();
  if (std::fclose(summary) != 0 || !written)
    return "GITHUB_STEP_SUMMARY=" + std::string(summary_path) + ": cannot append the run's summary";
  return std::nullopt;
}

}  // namespace xrun
