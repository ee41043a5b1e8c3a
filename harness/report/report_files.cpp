#include "report/report_files.h"

#include "core/fs_util.h"
#include "report/junit.h"

namespace xrun {

ReportFiles::ReportFiles(boost::asio::io_context& io, ReportSetup setup, std::chrono::milliseconds interval)
    : setup_(std::move(setup)), interval_(interval), flush_(io) {
  report_.partition = setup_.partition;
  report_.command_line = setup_.command_line;
  report_.host = host_description();
  report_.started_at = utc_now_iso8601();
  report_.complete = false;
  start_ = std::chrono::steady_clock::now();
}

void ReportFiles::on_plan(const std::vector<TestCase>& tests) {
  report_.complete = false;
  report_.tests.clear();
  position_.clear();
  for (const auto& t : tests) {
    TestResult planned;
    planned.binary = t.binary;
    planned.name = t.name;
    planned.status = Status::NotRun;
    planned.message = "not run yet";
    position_.emplace(std::pair{t.binary, t.name}, report_.tests.size());
    report_.tests.push_back(std::move(planned));
  }
  write();  // the whole plan, from the very start
}

void ReportFiles::on_result(const TestResult& result) {
  if (auto it = position_.find({result.binary, result.name}); it != position_.end()) report_.tests[it->second] = result;
  else report_.tests.push_back(result);
  const auto now = std::chrono::steady_clock::now();
  const auto wait = std::max<std::chrono::steady_clock::duration>(interval_, 4 * last_cost_);
  if (now - last_write_ >= wait) {
    write();
  } else if (!flush_pending_) {
    flush_pending_ = true;
    flush_.expires_after(wait - (now - last_write_));
    flush_.async_wait([this](const auto& error) {
      flush_pending_ = false;
      if (!error) write();
    });
  }
}

void ReportFiles::on_finish(const std::vector<TestResult>& results, double seconds, bool interrupted) {
  flush_.cancel();
  report_.tests = results;  // in plan order
  report_.duration_seconds = seconds;
  report_.interrupted = interrupted;
  report_.complete = true;
  write();
}

void ReportFiles::finish_without_tests(const std::string& why, bool interrupted) {
  flush_.cancel();
  report_.tests.clear();
  report_.interrupted = interrupted;
  report_.complete = false;
  report_.error = why;
  write();
}

void ReportFiles::mark_incomplete(const std::string& why) {
  flush_.cancel();
  report_.complete = false;
  report_.error = why;
  write();
}

void ReportFiles::write() {
  const auto begin = std::chrono::steady_clock::now();
  if (!report_.complete) report_.duration_seconds = std::chrono::duration<double>(begin - start_).count();
  if (setup_.baseline)
    report_.baseline = compare_with_baseline(report_.tests, *setup_.baseline, setup_.baseline_source, setup_.slowdown);
  const auto save = [&](const std::optional<std::string>& path, const auto& render) {
    if (!path) return;
    auto written = write_file_atomically(*path, render());
    if (!written && !error_) error_ = written.error().message;
  };
  save(setup_.json_path, [&] { return to_json(report_); });
  save(setup_.junit_path, [&] { return to_junit_xml(report_); });
  save(setup_.html_path, [&] { return html_.render(report_); });
  last_write_ = std::chrono::steady_clock::now();
  last_cost_ = last_write_ - begin;
  ++writes_;
}

}  // namespace xrun
