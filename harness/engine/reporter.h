// Where the scheduler's events go: the terminal, the JSON and JUnit files.
#pragma once

#include <string>
#include <vector>

#include "core/diagnostics.h"
#include "core/warnings.h"
#include "engine/test_model.h"

namespace xrun {

class Reporter {
 public:
  virtual ~Reporter() = default;
  virtual void on_plan(const std::vector<TestCase>& tests) { (void)tests; }
  virtual void on_test_started(const TestCase& test) { (void)test; }
  // One per test, when its status is final (after retries).
  virtual void on_result(const TestResult& result) { (void)result; }
  virtual void on_finish(const std::vector<TestResult>& results, double seconds, bool interrupted) {
    (void)results, (void)seconds, (void)interrupted;
  }
  // What the library warned of during the run (core/warnings.h): a board out
  // of the run, VMs that cold-boot.
  virtual void on_warning(const std::string& message) { (void)message; }
};

// Fans events out to several reporters.
class Reporters final : public Reporter {
 public:
  void add(Reporter* reporter) { reporters_.push_back(reporter); }
  void on_plan(const std::vector<TestCase>& tests) override {
    for (auto* r : reporters_) r->on_plan(tests);
  }
  void on_test_started(const TestCase& test) override {
    for (auto* r : reporters_) r->on_test_started(test);
  }
  void on_result(const TestResult& result) override {
    for (auto* r : reporters_) r->on_result(result);
  }
  void on_finish(const std::vector<TestResult>& results, double seconds, bool interrupted) override {
    for (auto* r : reporters_) r->on_finish(results, seconds, interrupted);
  }
  void on_warning(const std::string& message) override {
    for (auto* r : reporters_) r->on_warning(message);
  }

 private:
  std::vector<Reporter*> reporters_;
};

// The warnings of `xrun test`: to its reporters once they are made. Those
// that come before (while the tests are listed) are printed at once and
// kept, for the report files to record (ReportSetup::warnings).
class ReportedWarnings final : public Warnings {
 public:
  void warn(const std::string& message) override {
    if (reporter_) return reporter_->on_warning(message);
    print_warning(message);
    before_.push_back(message);
  }
  void report_to(Reporter* reporter) { reporter_ = reporter; }
  const std::vector<std::string>& before_reporters() const { return before_; }

 private:
  Reporter* reporter_ = nullptr;
  std::vector<std::string> before_;
};

}  // namespace xrun
