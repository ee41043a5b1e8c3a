// Follows a test harness's streaming output and says which test is running,
// how each one ended, and which output belongs to which test. This is what
// lets batch mode run many tests in one process and still report each test
// exactly as process mode would.
//
//   GoogleTest   "[ RUN      ] Suite.Name" ... "[       OK ] Suite.Name (3 ms)"
//                ("[  FAILED  ]", "[  SKIPPED ]"); lines between belong to the test.
//   libtest      with --test-threads=1, "test mod::name ... " is printed before
//                the test runs and "ok" / "FAILED" / "ignored" after it; a failed
//                test's captured output follows later under "---- mod::name stdout ----".
//   plain        everything belongs to the one test; only the exit status decides.
//
// The parser is passive (fed bytes by its owner) and knows nothing of
// processes, so it is unit-tested on recorded output.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/test_model.h"

namespace xrun {

// How the harness itself said a test ended.
enum class Verdict { Passed, Failed, Skipped };

struct StreamEvents {
  std::function<void(const std::string& name)> started;
  std::function<void(const std::string& name, Verdict verdict)> finished;
  // Output attributed to `name`; empty name: not inside any test (harness
  // banners, summaries, or a crash message printed after the last line).
  std::function<void(const std::string& name, std::string_view bytes)> output;
};

class HarnessStream {
 public:
  virtual ~HarnessStream() = default;
  virtual void feed(std::string_view bytes) = 0;
  // The process ended: flush a last line without newline.
  virtual void finish() = 0;
  // The test that started and has not finished, or "".
  virtual const std::string& current() const = 0;
  // The output could not be told apart from a nested run of the harness (a
  // test printing another run's lines that name a test of this one, out of
  // the order it was asked for):
  // no more events come, and the caller re-runs what is left one test per
  // process, judged by the exit status.
  virtual bool ambiguous() const { return false; }
};

// `expected`: the tests the process was asked to run, in the order the
// harness runs them; a start line is taken only for the next of them, and
// only between tests (inside a test, harness lines are that test's output:
// a test that runs a child GoogleTest binary and echoes it). Empty: any name.
std::unique_ptr<HarnessStream> make_harness_stream(TestKind kind, StreamEvents events,
                                                   std::vector<std::string> expected = {});

// What a failed test's own output says went wrong, as the harness printed
// it: GoogleTest's "file:line: Failure" blocks, libtest's "thread 'x'
// panicked at ..." message. Empty when the output holds none (the harness's
// verdict lines and banners are left out).
std::string failure_text(TestKind kind, std::string_view output);

// Arguments that make a harness run exactly these tests, one at a time, in a
// form its stream parser follows.
std::vector<std::string> harness_arguments(TestKind kind, const std::vector<std::string>& names);

}  // namespace xrun
