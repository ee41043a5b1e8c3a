// Keeps the --json and --junit files up to date while the run goes on: each
// rewrite is atomic, at most every `interval` -- a result that arrives sooner
// is written by a deferred flush on the io_context, never held back until the
// next result -- and always at the end. Whatever stops xrun (Ctrl-C, a crash,
// a CI timeout) leaves valid files holding every test that had finished.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "engine/reporter.h"
#include "report/report.h"

namespace xrun {

class ReportFiles final : public Reporter {
 public:
  ReportFiles(boost::asio::io_context& io, std::optional<std::string> json_path,
              std::optional<std::string> junit_path, std::optional<std::string> partition,
              std::chrono::milliseconds interval = std::chrono::milliseconds(250));

  void on_plan(const std::vector<TestCase>& tests) override;
  void on_result(const TestResult& result) override;
  void on_finish(const std::vector<TestResult>& results, double seconds, bool interrupted) override;

  // The first write error, if any (reported once, at the end).
  const std::optional<std::string>& error() const { return error_; }

 private:
  void write();

  std::optional<std::string> json_path_, junit_path_;
  RunReport report_;
  std::chrono::steady_clock::time_point start_, last_write_;
  std::chrono::milliseconds interval_;
  boost::asio::steady_timer flush_;
  bool flush_pending_ = false;
  std::optional<std::string> error_;
};

}  // namespace xrun
