#include "report/report_files.h"

#include "core/fs_util.h"
#include "report/junit.h"

namespace xrun {

ReportFiles::ReportFiles(boost::asio::io_context& io, std::optional<std::string> json_path,
                         std::optional<std::string> junit_path, std::optional<std::string> partition,
                         std::chrono::milliseconds interval)
    : json_path_(std::move(json_path)), junit_path_(std::move(junit_path)), interval_(interval), flush_(io) {
  report_.partition = std::move(partition);
  report_.started_at = utc_now_iso8601();
  start_ = std::chrono::steady_clock::now();
}

void ReportFiles::on_plan(const std::vector<TestCase>&) {
  write();  // valid (empty) files from the very start
}

void ReportFiles::on_result(const TestResult& result) {
  report_.tests.push_back(result);
  const auto since = std::chrono::steady_clock::now() - last_write_;
  if (since >= interval_) {
    write();
  } else if (!flush_pending_) {
    flush_pending_ = true;
    flush_.expires_after(interval_ - since);
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
  write();
}

void ReportFiles::write() {
  last_write_ = std::chrono::steady_clock::now();
  report_.duration_seconds = std::chrono::duration<double>(last_write_ - start_).count();
  for (const auto& [path, render] : {std::pair{json_path_, &to_json}, std::pair{junit_path_, &to_junit_xml}}) {
    if (!path) continue;
    auto written = write_file_atomically(*path, render(report_));
    if (!written && !error_) error_ = written.error().message;
  }
}

}  // namespace xrun
