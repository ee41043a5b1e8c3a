// xrun report merge A.json B.json ... [--json OUT] [--junit OUT]: one report
// from the reports of --partition shards (a CI matrix's last stage).
#include <cstdio>
#include <map>
#include <tuple>

#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "report/junit.h"
#include "report/report.h"
#include "cli_parse.h"
#include "xrun_main.h"

namespace xrun {

int report_command(const std::vector<std::string>& args) {
  CLI::App app("work with xrun test reports", "xrun report");
  app.require_subcommand(1);
  auto* merge = app.add_subcommand("merge", "merge JSON reports of --partition shards into one");
  std::vector<std::string> inputs;
  std::string json_out, junit_out;
  merge->add_option("reports", inputs, "JSON reports written by xrun test --json")->required();
  merge->add_option("--json", json_out, "merged JSON report");
  merge->add_option("--junit", junit_out, "merged JUnit XML report");
  bool allow_duplicates = false;
  merge->add_flag("--allow-duplicates", allow_duplicates,
                  "keep a test that two reports of the same partition both hold (else: an error)");
  if (auto stop = parse_subcommand(app, "report", args)) return *stop;
  RunReport merged;
  bool interrupted = false;
  // (binary, test, partition): the same file merged twice would count twice.
  std::map<std::tuple<std::string, std::string, std::string>, std::string> seen;
  for (const auto& path : inputs) {
    auto text = read_file(path);
    if (!text) {
      print_error(path + ": cannot read the report");
      return to_int(ExitCode::Usage);
    }
    auto report = report_from_json(*text, path);
    if (!report) {
      print_error(report.error().message);
      return to_int(report.error().code);
    }
    if (merged.started_at.empty() || report->started_at < merged.started_at) merged.started_at = report->started_at;
    merged.duration_seconds = std::max(merged.duration_seconds, report->duration_seconds);
    interrupted |= report->interrupted;
    merged.complete = merged.complete && report->complete;
    for (const auto& t : report->tests) {
      auto [it, added] = seen.emplace(std::tuple{t.binary, t.name, report->partition.value_or("")}, path);
      if (!added && !allow_duplicates) {
        print_error(path + ": " + t.binary + " " + t.name + " is in " + it->second +
                    " too (the same shard twice?); --allow-duplicates keeps both");
        return to_int(ExitCode::Usage);
      }
    }
    merged.tests.insert(merged.tests.end(), report->tests.begin(), report->tests.end());
  }
  merged.interrupted = interrupted;
  for (const auto& [path, render] : {std::pair{json_out, &to_json}, std::pair{junit_out, &to_junit_xml}}) {
    if (path.empty()) continue;
    auto written = write_file_atomically(path, render(merged));
    if (!written) {
      print_error(written.error().message);
      return to_int(ExitCode::ReportNotWritten);
    }
  }
  const auto counts = summarize(merged.tests);
  std::printf("merged %zu reports: %zu tests\n", inputs.size(), counts.at("total"));
  std::printf("%s\n", verdict_line(merged.tests).c_str());
  // Same verdict as one unsharded `xrun test` would have given.
  return exit_status_for_results(merged.tests, interrupted);
}

}  // namespace xrun
