// The Catch2 and doctest XML reporter streams on recorded output (Catch2
// 2.13.10 and doctest 2.4.9 on the fixtures in tests/fixtures/, paths cut),
// fed whole and byte by byte.
#include "engine/harness_xml_stream.h"

#include <gtest/gtest.h>

#include <map>

#include "engine/harness_catch2.h"
#include "engine/harness_doctest.h"
#include "engine/harness_stream.h"
#include "support/stream_trace.h"

using namespace xrun;

namespace {

using xrun::testing::Trace;

void play(HarnessStream& stream, const std::string& text, bool bytewise) {
  if (bytewise) {
    for (char c : text) stream.feed(std::string_view(&c, 1));
  } else {
    stream.feed(text);
  }
  stream.finish();
}

// `-r xml --order decl 'passes,fails,prints to stdout,MIXED CASE,xml <&> \'special\',aborts'`:
// Catch2 matched "Mixed Case" too (names match case-insensitively), and
// reported the abort itself before raising SIGABRT again.
const std::string kCatch2 = R"(<?xml version="1.0" encoding="UTF-8"?>
<Catch name="catch_tests" filters="passes,fails">
  <Group name="catch_tests">
    <TestCase name="passes" tags="[fast]" filename="catch_suite_test.cpp" line="13">
      <OverallResult success="true"/>
    </TestCase>
    <TestCase name="fails" tags="[fast]" filename="catch_suite_test.cpp" line="15">
      <Expression success="false" type="REQUIRE" filename="catch_suite_test.cpp" line="17">
        <Original>
          answer == 42
        </Original>
        <Expanded>
          41 == 42
        </Expanded>
      </Expression>
      <OverallResult success="false"/>
    </TestCase>
    <TestCase name="prints to stdout" filename="catch_suite_test.cpp" line="36">
printf line from the case
no newline here      <OverallResult success="true">
        <StdOut>
cout line from the case
        </StdOut>
      </OverallResult>
    </TestCase>
    <TestCase name="Mixed Case" filename="catch_suite_test.cpp" line="56">
      <OverallResult success="true"/>
    </TestCase>
    <TestCase name="MIXED CASE" filename="catch_suite_test.cpp" line="57">
      <Failure filename="catch_suite_test.cpp" line="57">
        only this one fails
      </Failure>
      <OverallResult success="false"/>
    </TestCase>
    <TestCase name="xml &lt;&amp;> 'special'" filename="catch_suite_test.cpp" line="58">
      <OverallResult success="true"/>
    </TestCase>
    <TestCase name="aborts" filename="catch_suite_test.cpp" line="27">
      <FatalErrorCondition filename="catch_suite_test.cpp" line="27">
        SIGABRT - Abort (abnormal termination) signal
      </FatalErrorCondition>
      <OverallResult success="false"/>
    </TestCase>
    <OverallResults successes="1" failures="2" expectedFailures="0"/>
  </Group>
</Catch>
)";

TEST(Catch2Stream, FollowsTheCasesAskedForAndLeavesAFatalSignalToTheProcess) {
  for (bool bytewise : {false, true}) {
    Trace trace;
    auto stream =
        make_harness_stream(TestKind::Catch2, trace.events_sink(),
                            {"passes", "fails", "prints to stdout", "MIXED CASE", "xml <&> 'special'", "aborts"});
    play(*stream, kCatch2, bytewise);
    EXPECT_EQ(trace.events, (std::vector<std::string>{"start passes", "pass passes", "start fails", "fail fails",
                                                      "start prints to stdout", "pass prints to stdout",
                                                      "start MIXED CASE", "fail MIXED CASE", "start xml <&> 'special'",
                                                      "pass xml <&> 'special'", "start aborts"}))
        << "bytewise=" << bytewise;
    EXPECT_EQ(stream->current(), "aborts") << "the crash is the running case's";
    EXPECT_NE(trace.output["prints to stdout"].find("printf line from the case\nno newline here"), std::string::npos);
    EXPECT_NE(trace.output["prints to stdout"].find("cout line from the case"), std::string::npos);
    EXPECT_NE(trace.output[""].find("<TestCase name=\"Mixed Case\""), std::string::npos) << "not asked for: nobody's";
    EXPECT_EQ(trace.output["passes"].find("answer"), std::string::npos);
  }
}

TEST(Catch2Stream, AStartTagWithoutItsNewlineYetStartsTheCase) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::Catch2, trace.events_sink(), {"hangs"});
  stream->feed(
      "<Catch name=\"x\">\n  <Group name=\"x\">\n    <TestCase name=\"hangs\" tags=\"[.hang]\" filename=\"f\" "
      "line=\"3\">");
  EXPECT_EQ(stream->current(), "hangs") << "a hang must be blamed on it";
  stream->feed("\nstill going\n");
  stream->finish();
  EXPECT_EQ(trace.events, (std::vector<std::string>{"start hangs"}));
  EXPECT_EQ(trace.output["hangs"],
            "    <TestCase name=\"hangs\" tags=\"[.hang]\" filename=\"f\" line=\"3\">\nstill going\n");
}

TEST(Catch2Stream, V3SkipIsSkipped) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::Catch2, trace.events_sink());
  play(
      *stream,
      "<Catch2TestRun name=\"t\">\n  <TestCase name=\"s\" tags=\"\" filename=\"f\" line=\"1\">\n"
      "    <Skip filename=\"f\" line=\"2\">\n      not here\n    </Skip>\n"
      "    <OverallResult success=\"true\" skips=\"1\"/>\n  </TestCase>\n"
      "  <TestCase name=\"p\" tags=\"\" filename=\"f\" line=\"5\">\n    <OverallResult success=\"true\" skips=\"0\"/>\n"
      "  </TestCase>\n</Catch2TestRun>\n",
      false);
  EXPECT_EQ(trace.events, (std::vector<std::string>{"start s", "skip s", "start p", "pass p"}));
}

TEST(Catch2Stream, FailureTextIsTheAssertion) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::Catch2, trace.events_sink(), {"fails", "MIXED CASE", "aborts"});
  play(*stream, kCatch2, false);
  EXPECT_EQ(failure_text(TestKind::Catch2, trace.output["fails"]),
            "catch_suite_test.cpp:17: REQUIRE( answer == 42 )\nwith expansion:\n  41 == 42");
  EXPECT_EQ(failure_text(TestKind::Catch2, trace.output["MIXED CASE"]), "catch_suite_test.cpp:57: only this one fails");
  EXPECT_EQ(failure_text(TestKind::Catch2, trace.output["aborts"]),
            "catch_suite_test.cpp:27: fatal error condition: SIGABRT - Abort (abnormal termination) signal");
  EXPECT_EQ(failure_text(TestKind::Catch2, "<TestCase name=\"p\">\n<OverallResult success=\"true\"/>\n"), "");
}

// `--dt-reporters=xml --dt-case-sensitive=true --dt-test-case='passes,fails,wild?card,aborts'`:
// the filter "wild?card" matched "wildXcard" too; doctest reports each case
// its filters left out as <TestCase .../>.
const std::string kDoctest = R"(<?xml version="1.0" encoding="UTF-8"?>
<doctest binary="doctest_tests" version="2.4.9">
  <Options order_by="file" rand_seed="0" first="0" last="4294967295" abort_after="0" subcase_filter_levels="2147483647" case_sensitive="true" no_throw="false" no_skip="false"/>
  <TestSuite>
    <TestCase name="passes" filename="doctest_suite_test.cpp" line="13">
      <OverallResultsAsserts successes="1" failures="0" test_case_success="true"/>
    </TestCase>
    <TestCase name="fails" filename="doctest_suite_test.cpp" line="15">
      <Expression success="false" type="CHECK" filename="doctest_suite_test.cpp" line="17">
        <Original>
          answer == 42
        </Original>
        <Expanded>
          41 == 42
        </Expanded>
      </Expression>
      <OverallResultsAsserts successes="0" failures="1" test_case_success="false"/>
    </TestCase>
    <TestCase name="crashes with SIGSEGV" filename="doctest_suite_test.cpp" line="20" skipped="true"/>
    <TestCase name="wild?card" filename="doctest_suite_test.cpp" line="52">
      <OverallResultsAsserts successes="1" failures="0" test_case_success="true"/>
    </TestCase>
    <TestCase name="wildXcard" filename="doctest_suite_test.cpp" line="53">
      <Message type="FATAL ERROR" filename="doctest_suite_test.cpp" line="53">
        <Text>
          only this one fails
        </Text>
      </Message>
      <OverallResultsAsserts successes="0" failures="1" test_case_success="false"/>
    </TestCase>
    <TestCase name="aborts" filename="doctest_suite_test.cpp" line="27">
      <Exception crash="true">
        SIGABRT - Abort (abnormal termination) signal
      </Exception>
      <OverallResultsAsserts successes="0" failures="0" test_case_success="false"/>
    </TestCase>
  </TestSuite>
</doctest>
)";

TEST(DoctestStream, FollowsTheCasesAskedForAndLeavesACrashToTheProcess) {
  for (bool bytewise : {false, true}) {
    Trace trace;
    auto stream =
        make_harness_stream(TestKind::Doctest, trace.events_sink(), {"passes", "fails", "wild?card", "aborts"});
    play(*stream, kDoctest, bytewise);
    EXPECT_EQ(trace.events, (std::vector<std::string>{"start passes", "pass passes", "start fails", "fail fails",
                                                      "start wild?card", "pass wild?card", "start aborts"}))
        << "bytewise=" << bytewise;
    EXPECT_EQ(stream->current(), "aborts");
    EXPECT_NE(trace.output[""].find("only this one fails"), std::string::npos);
  }
}

TEST(DoctestStream, FailureTextIsTheAssertion) {
  Trace trace;
  auto stream = make_harness_stream(TestKind::Doctest, trace.events_sink());
  play(*stream, kDoctest, false);
  EXPECT_EQ(failure_text(TestKind::Doctest, trace.output["fails"]),
            "doctest_suite_test.cpp:17: CHECK( answer == 42 )\nwith expansion:\n  41 == 42");
  EXPECT_EQ(failure_text(TestKind::Doctest, trace.output["wildXcard"]),
            "doctest_suite_test.cpp:53: FATAL ERROR: only this one fails");
  EXPECT_EQ(failure_text(TestKind::Doctest, trace.output["aborts"]),
            "crash: SIGABRT - Abort (abnormal termination) signal");
}

// Mutated recordings (bytes flipped, cut, duplicated; a fixed seed): the
// stream and listing parsers never crash, a case finishes only after it started and at most
// once, and the listing parsers return names, whatever they are fed.
TEST(XmlReporterStreams, MutatedOutputIsHandled) {
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  const auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int round = 0; round < 400; ++round) {
    const bool catch2 = round % 2 == 0;
    std::string text = catch2 ? kCatch2 : kDoctest;
    for (int edits = 1 + static_cast<int>(next() % 8); edits > 0; --edits) {
      const std::size_t at = next() % text.size();
      switch (next() % 4) {
        case 0:
          text[at] = static_cast<char>(next());
          break;
        case 1:
          text.erase(at, next() % 64);
          break;
        case 2:
          text.insert(at, text.substr(next() % text.size(), next() % 200));
          break;
        case 3:
          text.insert(at, next() % 2 ? "<TestCase name=\"" : "</TestCase>");
          break;
      }
      if (text.empty()) text = "<";
    }
    Trace trace;
    std::map<std::string, int> started, finished;
    StreamEvents events = trace.events_sink();
    events.started = [&](const std::string& n) { ++started[n]; };
    events.finished = [&](const std::string& n, Verdict) {
      EXPECT_EQ(started[n], 1) << n;
      EXPECT_EQ(++finished[n], 1) << n;
    };
    auto stream = make_harness_stream(catch2 ? TestKind::Catch2 : TestKind::Doctest, std::move(events),
                                      {"passes", "fails", "aborts", "wild?card", "MIXED CASE"});
    play(*stream, text, next() % 2 == 0);
    (void)failure_text(catch2 ? TestKind::Catch2 : TestKind::Doctest, text);
    for (const auto& tc : parse_doctest_list("/b", text)) EXPECT_EQ(tc.kind, TestKind::Doctest);
    for (const auto& tc : parse_catch2_list("/b", {text})) EXPECT_EQ(tc.kind, TestKind::Catch2);
    (void)parse_catch2_list("/b", {text, text});
  }
}

TEST(XmlText, EntitiesAndAttributesDecode) {
  EXPECT_EQ(xml_unescape("a &lt;&amp;&gt; &quot;b&quot; &apos;c&apos; &#65;&#x42; &bogus; & x"),
            "a <&> \"b\" 'c' AB &bogus; & x");
  EXPECT_EQ(xml_attribute("<TestCase name=\"a &amp; b\" tags=\"[x]\">", "name"), "a & b");
  EXPECT_EQ(xml_attribute("<TestCase filename=\"n\" name=\"m\">", "name"), "m") << "a whole attribute name";
  EXPECT_FALSE(xml_attribute("<TestCase tags=\"[x]\">", "name"));
  EXPECT_FALSE(xml_attribute("<TestCase name=\"cut", "name"));
}

}  // namespace
