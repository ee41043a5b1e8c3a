// xrun report: work with the JSON reports `xrun test --json` wrote.
//   merge A.json B.json ... [--json OUT] [--junit OUT]   one report from the
//       reports of --partition shards (a CI matrix's last stage)
//   html A.json ... [-o OUT] [--baseline PREV.json]      the HTML report of a
//       run, or of shards merged the same way
#include <cstdio>
#include <map>
#include <tuple>

#include "core/cli_parse.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "report/baseline.h"
#include "report/html.h"
#include "report/junit.h"
#include "report/report.h"
#include "xrun_main.h"

namespace xrun {
namespace {

struct MergedReport {
  RunReport report;
  bool interrupted = false;
};

// The reports of one run's shards as one run: its start is the earliest
// shard's, its wall time the longest shard's (shards run side by side), and
// it is complete only when every shard is. One report is returned as it is.
Expected<MergedReport> merge_report_files(const std::vector<std::string>& inputs, bool allow_duplicates) {
  MergedReport merged;
  // (binary, test, partition): the same file merged twice would count twice.
  std::map<std::tuple<std::string, std::string, std::string>, std::string> seen;
  for (const auto& path : inputs) {
    auto text = read_file(path);
    if (!text) return Error{ExitCode::Usage, path + ": cannot read the report"};
    auto report = report_from_json(*text, path);
    if (!report) return report.error();
    for (const auto& t : report->tests) {
      auto [it, added] = seen.emplace(std::tuple{t.binary, t.name, report->partition.value_or("")}, path);
      if (!added && !allow_duplicates)
        return Error{ExitCode::Usage, path + ": " + t.binary + " " + t.name + " is in " + it->second +
                                          " too (the same shard twice?); --allow-duplicates keeps both"};
    }
    RunReport& into = merged.report;
    if (inputs.size() == 1) {
      into = std::move(*report);
      merged.interrupted = into.interrupted;
      return merged;
    }
    if (into.started_at.empty() || report->started_at < into.started_at) into.started_at = report->started_at;
    into.duration_seconds = std::max(into.duration_seconds, report->duration_seconds);
    merged.interrupted |= report->interrupted;
    into.complete = into.complete && report->complete;
    // Shards differ only in --partition: the first one's command line stands for them.
    if (into.command_line.empty()) into.command_line = report->command_line;
    if (!report->host.empty() && into.host.find(report->host) == std::string::npos)
      into.host += (into.host.empty() ? "" : ", ") + report->host;
    into.warnings.insert(into.warnings.end(), report->warnings.begin(), report->warnings.end());
    into.tests.insert(into.tests.end(), report->tests.begin(), report->tests.end());
  }
  merged.report.interrupted = merged.interrupted;
  return merged;
}

int write_or_fail(const std::string& path, const std::string& content) {
  auto written = write_file_atomically(path, content);
  if (written) return 0;
  print_error(written.error().message);
  return to_int(ExitCode::ReportNotWritten);
}

int merge(const std::vector<std::string>& inputs, bool allow_duplicates, const std::string& json_out,
          const std::string& junit_out) {
  auto merged = merge_report_files(inputs, allow_duplicates);
  if (!merged) {
    print_error(merged.error().message);
    return to_int(merged.error().code);
  }
  for (const auto& [path, render] : {std::pair{json_out, &to_json}, std::pair{junit_out, &to_junit_xml}}) {
    if (path.empty()) continue;
    if (int failed = write_or_fail(path, render(merged->report))) return failed;
  }
  const auto& tests = merged->report.tests;
  std::printf("merged %zu reports: %zu tests\n", inputs.size(), summarize(tests).at("total"));
  std::printf("%s\n", verdict_line(tests).c_str());
  // Same verdict as one unsharded `xrun test` would have given.
  return exit_status_for_results(tests, merged->interrupted);
}

// Writes the page and says where it is; the exit status is the run's own
// verdict, so `xrun report html` in a CI stage fails like the run did.
int html(const std::vector<std::string>& inputs, bool allow_duplicates, const std::string& out,
         const std::string& baseline_path, std::optional<double> slowdown_percent) {
  auto merged = merge_report_files(inputs, allow_duplicates);
  if (!merged) {
    print_error(merged.error().message);
    return to_int(merged.error().code);
  }
  RunReport& report = merged->report;
  if (!baseline_path.empty()) {
    auto baseline = read_baseline(baseline_path);
    if (!baseline) {
      print_error(baseline.error().message);
      return to_int(baseline.error().code);
    }
    SlowdownRule rule;
    if (slowdown_percent) rule.share = *slowdown_percent / 100;
    report.baseline = compare_with_baseline(report.tests, *baseline, baseline_path, rule);
  }
  if (int failed = write_or_fail(out, to_html(report))) return failed;
  std::printf("wrote %s: %zu tests from %zu report%s\n", out.c_str(), report.tests.size(), inputs.size(),
              inputs.size() == 1 ? "" : "s");
  std::printf("%s\n", verdict_line(report.tests).c_str());
  return exit_status_for_results(report.tests, merged->interrupted);
}

}  // namespace

int report_command(const std::vector<std::string>& args) {
  CLI::App app("work with xrun test reports", "xrun report");
  app.require_subcommand(1);
  std::vector<std::string> inputs;
  bool allow_duplicates = false;
  const char* const duplicates_help = "keep a test that two reports of the same partition both hold (else: an error)";

  auto* merge_app = app.add_subcommand("merge", "merge JSON reports of --partition shards into one");
  std::string json_out, junit_out;
  merge_app->add_option("reports", inputs, "JSON reports written by xrun test --json")->required();
  merge_app->add_option("--json", json_out, "merged JSON report");
  merge_app->add_option("--junit", junit_out, "merged JUnit XML report");
  merge_app->add_flag("--allow-duplicates", allow_duplicates, duplicates_help);

  auto* html_app = app.add_subcommand(
      "html", "write the HTML report of a run from its JSON report (several: --partition shards, merged)");
  std::string html_out = "xrun-report.html", baseline;
  std::optional<double> slowdown;
  html_app->add_option("reports", inputs, "JSON reports written by xrun test --json")->required();
  html_app->add_option("-o,--output", html_out, "the HTML file to write (default xrun-report.html)");
  html_app->add_option("--baseline", baseline,
                       "compare with an earlier run's JSON report: new failures, fixed, new and removed tests, "
                       "slower tests");
  html_app
      ->add_option("--slowdown", slowdown,
                   "with --baseline: a test is slower when its duration grew by more than PERCENT (default 50) "
                   "and 0.1 s")
      ->check(CLI::PositiveNumber & CLI::Range(0.0, 1e6));
  html_app->add_flag("--allow-duplicates", allow_duplicates, duplicates_help);

  if (auto stop = parse_subcommand(app, "report", args)) return *stop;
  if (html_app->parsed()) return html(inputs, allow_duplicates, html_out, baseline, slowdown);
  return merge(inputs, allow_duplicates, json_out, junit_out);
}

}  // namespace xrun
