// Where the scheduler's events go: the terminal, the JSON and JUnit files.
#pragma once

#include <vector>

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

 private:
  std::vector<Reporter*> reporters_;
};

}  // namespace xrun
