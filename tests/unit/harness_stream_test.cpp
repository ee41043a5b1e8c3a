// The stream parsers on recorded harness output, fed whole and byte by byte.
#include "engine/harness_stream.h"

#include <gtest/gtest.h>

#include "support/stream_trace.h"

using namespace xrun;

namespace {

using xrun::testing::Trace;

const char* kGTest =
    "Running main() from gtest_main.cc\n"
    "[==========] Running 4 tests from 2 test suites.\n"
    "[ RUN      ] A.ok\n"
    "hello from A.ok\n"
    "[       OK ] A.ok (0 ms)\n"
    "[ RUN      ] A.bad\n"
    "x.cpp:3: Failure\n"
    "[  FAILED  ] A.bad (1 ms)\n"
    "[ RUN      ] Values/P.t/0\n"
    "[  FAILED  ] Values/P.t/0, where GetParam() = 4 (0 ms)\n"
    "[ RUN      ] A.skipped\n"
    "[  SKIPPED ] A.skipped (0 ms)\n"
    "[==========] 4 tests ran.\n"
    "[  FAILED  ] 2 tests, listed below:\n"
    "[  FAILED  ] A.bad\n"
    "[  FAILED  ] Values/P.t/0, where GetParam() = 4\n";

TEST(GTestStream, FollowsRunAndResultLines) {
  for (bool bytewise : {false, true}) {
    Trace trace;
    auto stream = make_harness_stream(TestKind::GTest, trace.events_sink());
    const std::string text = kGTest;
    if (bytewise) {
      for (char c : text) stream->feed(std::string_view(&c, 1));
    } else {
      stream->feed(text);
    }
    stream->finish();
    EXPECT_EQ(trace.events,
              (std::vector<std::string>{"start A.ok", "pass A.ok", "start A.bad", "fail A.bad", "start Values/P.t/0",
                                        "fail Values/P.t/0", "start A.skipped", "skip A.skipped"}))
        << "bytewise=" << bytewise;
    EXPECT_EQ(trace.output["A.ok"], "[ RUN      ] A.ok\nhello from A.ok\n[       OK ] A.ok (0 ms)\n");
    EXPECT_NE(trace.output[""].find("listed below"), std::string::npos) << "summary is not any test's output";
  }
}

// Lines that end "\r\n" (a harness on Windows, or a terminal's line
// discipline) are the same verdicts, and each test's output keeps its bytes.
TEST(GTestStream, CarriageReturnsBeforeNewlinesAreVerdictsToo) {
  for (bool bytewise : {false, true}) {
    Trace trace;
    auto stream = make_harness_stream(TestKind::GTest, trace.events_sink());
    std::string text;
    for (char c : std::string(kGTest)) text += c == '\n' ? std::string("\r\n") : std::string(1, c);
    text += "a last line\r";  // no newline: the end of the stream
    if (bytewise) {
      for (char c : text) stream->feed(std::string_view(&c, 1));
    } else {
      stream->feed(text);
    }
    stream->finish();
    EXPECT_EQ(trace.events,
              (std::vector<std::string>{"start A.ok", "pass A.ok", "start A.bad", "fail A.bad", "start Values/P.t/0",
                                        "fail Values/P.t/0", "start A.skipped", "skip A.skipped"}))
        << "bytewise=" << bytewise;
    EXPECT_EQ(trace.output["A.ok"], "[ RUN      ] A.ok\r\nhello from A.ok\r\n[       OK ] A.ok (0 ms)\r\n");
    EXPECT_NE(trace.output[""].find("a last line\r"), std::string::npos);
  }
  Trace trace;
  auto stream = make_harness_stream(TestKind::Libtest, trace.events_sink());
  stream->feed("running 2 tests\r\ntest a::ok ... ok\r\ntest a::bad ... FAILED\r\n");
  stream->finish();
  EXPECT_EQ(trace.events, (std::vector<std::string>{"start a::ok", "pass a::ok", "start a::bad", "fail a::bad"}));
}

TEST(GTestStream, CrashLeavesTheTestCurrent) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::GTest, trace.events_sink());
  stream->feed("[ RUN      ] C.crash\nbefore\nqemu: uncaught target signal 11");
  stream->finish();
  EXPECT_EQ(stream->current(), "C.crash");
  EXPECT_EQ(trace.output["C.crash"], "[ RUN      ] C.crash\nbefore\nqemu: uncaught target signal 11");
}

// Found by tests/fuzz/parser_fuzz.cpp: "[ RUN      ] " alone started a test
// of no name.
TEST(GTestStream, ARunLineOfNoNameIsOutput) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::GTest, trace.events_sink());
  stream->feed("[ RUN      ] \n[       OK ]  (0 ms)\n");
  EXPECT_TRUE(trace.events.empty());
  EXPECT_EQ(trace.output[""], "[ RUN      ] \n[       OK ]  (0 ms)\n");
}

TEST(GTestStream, ANameThatIsAPrefixOfAnotherIsNotConfused) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::GTest, trace.events_sink());
  stream->feed("[ RUN      ] A.t\n[       OK ] A.t2 (0 ms)\n");
  EXPECT_EQ(stream->current(), "A.t");
}

const char* kLibtest =
    "\nrunning 4 tests\n"
    "test tests::ok ... ok\n"
    "test tests::bad ... FAILED\n"
    "test tests::panics - should panic ... ok\n"
    "test tests::slow ... ignored\n"
    "\nfailures:\n\n"
    "---- tests::bad stdout ----\n"
    "thread 'main' panicked at 'boom'\n"
    "\n\nfailures:\n    tests::bad\n\n"
    "test result: FAILED. 2 passed; 1 failed; 1 ignored\n";

TEST(LibtestStream, FollowsTestLinesAndFailureSections) {
  for (bool bytewise : {false, true}) {
    Trace trace;
    auto stream = make_harness_stream(TestKind::Libtest, trace.events_sink());
    const std::string text = kLibtest;
    if (bytewise) {
      for (char c : text) stream->feed(std::string_view(&c, 1));
    } else {
      stream->feed(text);
    }
    stream->finish();
    EXPECT_EQ(trace.events, (std::vector<std::string>{"start tests::ok", "pass tests::ok", "start tests::bad",
                                                      "fail tests::bad", "start tests::panics", "pass tests::panics",
                                                      "start tests::slow", "skip tests::slow"}));
    EXPECT_NE(trace.output["tests::bad"].find("panicked at 'boom'"), std::string::npos);
  }
}

TEST(LibtestStream, StartIsSeenBeforeTheLineEnds) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::Libtest, trace.events_sink());
  stream->feed("running 1 test\ntest tests::hangs ... ");
  EXPECT_EQ(stream->current(), "tests::hangs");
  EXPECT_EQ(trace.events, std::vector<std::string>{"start tests::hangs"});
}

TEST(HarnessArguments, SelectExactlyTheNamedTests) {
  EXPECT_EQ(harness_arguments(TestKind::GTest, {"A.b", "C/D.e/0"}),
            (std::vector<std::string>{"--gtest_filter=A.b:C/D.e/0", "--gtest_color=no"}));
  EXPECT_EQ(harness_arguments(TestKind::Libtest, {"m::a"}),
            (std::vector<std::string>{"--test-threads=1", "--exact", "--color=never", "m::a"}));
}

// What JUnit's <failure> shows: the assertion, as each harness prints it.
TEST(FailureText, GoogleTestBlocksWithoutTheHarnessLines) {
  const std::string output =
      "[ RUN      ] Fail.Assertion\nabout to fail\n"
      "/src/suite_test.cpp:26: Failure\nExpected equality of these values:\n  2 + 2\n    Which is: 4\n  5\n"
      "arithmetic is broken\nunknown file: Failure\nC++ exception with description \"x\" thrown in the test body.\n"
      "[  FAILED  ] Fail.Assertion (0 ms)\n";
  EXPECT_EQ(
      failure_text(TestKind::GTest, output),
      "/src/suite_test.cpp:26: Failure\nExpected equality of these values:\n  2 + 2\n    Which is: 4\n  5\n"
      "arithmetic is broken\nunknown file: Failure\nC++ exception with description \"x\" thrown in the test body.");
  EXPECT_EQ(failure_text(TestKind::GTest, "[ RUN      ] A.b\nno assertion here\n[  FAILED  ] A.b (0 ms)\n"), "");
}

TEST(FailureText, RustPanicsOldAndNewStyle) {
  // rustc 1.63 (Debian 12) and rustc 1.73 and later word it differently.
  const std::string old_style =
      "test tests::bad ... FAILED\n\nfailures:\n\n---- tests::bad stdout ----\n"
      "thread 'tests::bad' panicked at 'assertion failed: `(left == right)`\n  left: `1`,\n right: `2`', "
      "src/lib.rs:9:9\n"
      "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n";
  EXPECT_EQ(failure_text(TestKind::Libtest, old_style),
            "thread 'tests::bad' panicked at 'assertion failed: `(left == right)`\n  left: `1`,\n right: `2`', "
            "src/lib.rs:9:9");
  const std::string new_style =
      "---- tests::bad stdout ----\nthread 'tests::bad' panicked at src/lib.rs:9:9:\nassertion `left == right` failed\n"
      "  left: 1\n right: 2\n\n\nfailures:\n    tests::bad\n";
  EXPECT_EQ(failure_text(TestKind::Libtest, new_style),
            "thread 'tests::bad' panicked at src/lib.rs:9:9:\nassertion `left == right` failed\n  left: 1\n right: 2");
}

// Inside a test, harness lines are that test's output: a nested gtest run
// echoed by a test does not start or finish other tests.
TEST(GTestStream, OnlyTheExpectedTestsInOrderBetweenTests) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::GTest, trace.events_sink(), {"A.outer", "A.next"});
  stream->feed(
      "[ RUN      ] A.outer\n[ RUN      ] A.next\n[       OK ] A.next (0 ms)\n[       OK ] A.outer (2 ms)\n"
      "[ RUN      ] Not.Asked\n[ RUN      ] A.next\n[  FAILED  ] A.next (1 ms)\n");
  EXPECT_EQ(trace.events, (std::vector<std::string>{"start A.outer", "pass A.outer", "start A.next", "fail A.next"}));
  EXPECT_FALSE(stream->ambiguous());
  EXPECT_NE(trace.output["A.outer"].find("[       OK ] A.next (0 ms)"), std::string::npos);
  Trace self;
  auto nested = make_harness_stream(TestKind::GTest, self.events_sink(), {"A.t"});
  nested->feed("[ RUN      ] A.t\n[ RUN      ] A.t\n[       OK ] A.t (0 ms)\n[  FAILED  ] A.t (1 ms)\n");
  EXPECT_TRUE(nested->ambiguous());
  EXPECT_EQ(self.events, std::vector<std::string>{"start A.t"});
}

// Found by tests/fuzz/parser_fuzz.cpp. libtest's start lines count only
// between tests: a test's child process that writes another libtest run to
// the same stdout does not start (or pass) a test of this run.
TEST(LibtestStream, AnotherRunsLinesInsideATestAreItsOutput) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::Libtest, trace.events_sink(), {"cli::outer", "cli::z"});
  stream->feed("running 2 tests\ntest cli::outer ... \nrunning 1 test\ntest cli::z ... ok\n");
  EXPECT_EQ(trace.events, std::vector<std::string>{"start cli::outer"});
  EXPECT_EQ(stream->current(), "cli::outer");
  EXPECT_NE(trace.output["cli::outer"].find("test cli::z ... ok"), std::string::npos);
}

// ...and a failed test's captured output, printed in the failures section
// after every test ran, is not a second verdict: a child run's "test x ...
// ok" in it once turned the failed test into a pass.
TEST(LibtestStream, TestLinesInTheFailuresSectionAreNotVerdicts) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::Libtest, trace.events_sink(), {"a::bad", "a::ok"});
  stream->feed(
      "running 2 tests\ntest a::bad ... FAILED\ntest a::ok ... ok\n\nfailures:\n\n"
      "---- a::bad stdout ----\nthe child said:\ntest a::ok ... FAILED\ntest a::bad ... ok\n\n"
      "failures:\n    a::bad\n\ntest result: FAILED. 1 passed; 1 failed\n");
  stream->finish();
  EXPECT_EQ(trace.events, (std::vector<std::string>{"start a::bad", "fail a::bad", "start a::ok", "pass a::ok"}));
  EXPECT_NE(trace.output["a::bad"].find("test a::bad ... ok"), std::string::npos);
  EXPECT_FALSE(stream->ambiguous());
}

// As for GoogleTest: another test of the run out of order cannot be placed.
TEST(LibtestStream, AnExpectedTestOutOfOrderIsAmbiguous) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::Libtest, trace.events_sink(), {"a", "b"});
  stream->feed("test b ... ok\ntest a ... ok\n");
  EXPECT_TRUE(stream->ambiguous());
  EXPECT_TRUE(trace.events.empty());
}

// Found by tests/fuzz/parser_fuzz.cpp: a line of no name ("test  ... FAILED")
// finished the test of no name that was not running.
TEST(LibtestStream, ALineOfNoNameIsOutput) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::Libtest, trace.events_sink(), {"a"});
  stream->feed("test  ... FAILED\ntest a ... ok\n");
  EXPECT_EQ(trace.events, (std::vector<std::string>{"start a", "pass a"}));
}

}  // namespace
