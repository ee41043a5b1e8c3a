// In-process fuzzers of the parsers that xrun trusts with bytes it does not
// control -- a test's output, a harness's listing, an agent's frames, a report
// file -- checking the promises their headers make. Many thousand inputs a
// second, so they run under ASan+UBSan too (scripts/sanitize.sh):
//
//   streams   make_harness_stream for every TestKind (kStreamKinds: one row a
//             kind) on recorded outputs, mutated (bytes flipped, the harness's
//             own lines inserted with names of the run and others, lines
//             duplicated, dropped or cut, CR, NUL, huge lines) and fed in
//             chunks of random sizes. Every byte comes out through `output`
//             once, in order; `finished` only for the current test; one test
//             current at a time; with expected names, starts only for the next
//             of them; ambiguous() stays set and stops the events. Also
//             failure_text and harness_arguments on the same bytes.
//   listings  parse_gtest_list, parse_libtest_list, parse_catch2_list, parse_doctest_list (kListingKinds): every
//             test has a name without '\n', its binary and its kind.
//   frames    AgentFrameReader on valid guest frames (written here from
//             images/agent/protocol.h) in random chunks: each comes back
//             with its fields; mutated streams: never an exception, corrupt()
//             stays set, a length over XRUN_AGENT_MAX_FRAME is refused
//             without allocating it. decode_pulled, decode_files_ack likewise.
//   reports   report_from_json (`xrun report merge`'s reader) on mutated
//             reports: an Error, never an exception; what it accepts
//             survives to_json and reading again unchanged.
//   probes    probe_binary (probe/binary_probe.h) on mutated programs: the
//             FILEs given (real ELF, PE and WebAssembly files) and hand-made
//             headers of each format, their header bytes flipped, fields set
//             to edge values, cut at any length. Never an exception; one
//             answer: a format, with its facts or a problem naming the file;
//             the same answer read from memory and through a descriptor.
//
//   xrun_parser_fuzz streams|listings|frames|reports|probes|all [--iterations N] [--seed S] [--out DIR] [FILE...]
//
// Input i of seed S is made from its own generator (S, i), so a violation is
// reproduced by its seed alone. A violation prints the input hex-escaped and
// keeps its bytes in DIR (default: a new /tmp/xrun-parser-fuzz-*); exit 1.
#include <sys/mman.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <new>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/discovery.h"
#include "engine/harness_catch2.h"
#include "engine/harness_doctest.h"
#include "engine/harness_stream.h"
#include "machine/agent_protocol.h"
#include "probe/binary_probe.h"
#include "report/report.h"

// The largest single allocation while `g_track_allocations` is set: a frame
// reader must not reserve what a hostile length field asks for.
namespace {
bool g_track_allocations = false;
std::size_t g_largest_allocation = 0;
}  // namespace
void* operator new(std::size_t size) {
  if (g_track_allocations && size > g_largest_allocation) g_largest_allocation = size;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
// Not inlined: GCC would see new's memory go to free() and warn.
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace xrun;

std::mt19937_64 rng;
std::size_t below(std::size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }
bool one_in(std::size_t n) { return below(n) == 0; }
template <class T>
const T& pick(const std::vector<T>& from) {
  return from[below(from.size())];
}

std::string escaped(std::string_view bytes, std::size_t limit = 4000) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\n')
      out += "\\n\n";
    else if (c == '\\')
      out += "\\\\";
    else if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  if (bytes.size() > limit) out += "... (" + std::to_string(bytes.size() - limit) + " more bytes)";
  return out;
}

struct Fuzz {
  std::string target, out_dir;
  unsigned long long seed = 1;
  std::size_t iteration = 0, inputs = 0;
  int violations = 0;

  std::set<std::string> seen;  // kinds of violation printed

  // Each kind of violation (its text without names and numbers) is printed
  // once, with its input; all are counted.
  void violation(const std::string& what, std::string_view input, const std::string& context = "") {
    ++violations;
    std::string key;
    bool quoted = false;
    for (char c : what) {
      if (c == '"')
        quoted = !quoted;
      else if (!quoted && !std::isdigit(static_cast<unsigned char>(c)))
        key += c;
    }
    if (!seen.insert(key).second || seen.size() > 10) return;
    const std::string kept = out_dir + "/violation-" + target + "-" + std::to_string(seen.size()) + ".bin";
    std::ofstream(kept, std::ios::binary | std::ios::trunc) << input;
    std::printf("VIOLATION %s: %s\n  seed %llu, input %zu; %s\n  input (%zu bytes, kept as %s):\n%s\n\n",
                target.c_str(), what.c_str(), seed, iteration, context.c_str(), input.size(), kept.c_str(),
                escaped(input).c_str());
  }
};

// Feeds `input` in pieces of random sizes: one byte at a time, small, any,
// or whole. Huge inputs are cut in at most ~4096 pieces (a pipe delivers
// up to 64 KiB a read; a million one-byte reads only measures the fuzzer).
std::vector<std::size_t> chunking(std::size_t size) {
  std::vector<std::size_t> sizes;
  const std::size_t floor = std::max<std::size_t>(1, size / 4096);
  const int mode = static_cast<int>(below(4));
  for (std::size_t done = 0; done < size;) {
    std::size_t n = mode == 0 ? 1 : mode == 1 ? 1 + below(64) : mode == 2 ? 1 + below(size - done) : size - done;
    n = std::min(std::max(n, floor), size - done);
    sizes.push_back(n);
    done += n;
  }
  return sizes;
}

std::string random_name() {
  if (one_in(20)) return "";
  static const std::vector<std::string> parts{"A",          "Suite",
                                              "t",          "tests",
                                              "mod",        "a b",
                                              "x/0",        "P.t/1",
                                              "::",         ".",
                                              "DISABLED_x", " ",
                                              "",           "\xc3\xa9",
                                              "\t",         "(",
                                              ")",          ",",
                                              "#",          "*",
                                              "...",        " - should panic",
                                              "\r",         std::string(1, '\0')};
  std::string name;
  for (int n = 1 + static_cast<int>(below(4)); n > 0; --n) name += pick(parts);
  return name;
}

// ------------------------------------------------------------- streams ---

// Recorded outputs: what the harnesses print under the arguments of
// harness_arguments() (GoogleTest 1.12, Debian's; libtest of rustc 1.63 and 1.7x).
const std::vector<std::string> kGTestOutputs{
    "Running main() from ./googletest/src/gtest_main.cc\n"
    "Note: Google Test filter = A.ok:A.bad:Values/P.t/0:A.skipped\n"
    "[==========] Running 4 tests from 2 test suites.\n"
    "[----------] Global test environment set-up.\n"
    "[----------] 3 tests from A\n"
    "[ RUN      ] A.ok\nhello from A.ok\n[       OK ] A.ok (0 ms)\n"
    "[ RUN      ] A.bad\n/src/a_test.cpp:26: Failure\nExpected equality of these values:\n  2 + 2\n    Which is: 4\n"
    "  5\n[  FAILED  ] A.bad (1 ms)\n"
    "[ RUN      ] A.skipped\n/src/a_test.cpp:30: Skipped\nnot here\n[  SKIPPED ] A.skipped (0 ms)\n"
    "[----------] 3 tests from A (1 ms total)\n\n"
    "[----------] 1 test from Values/P\n"
    "[ RUN      ] Values/P.t/0\n/src/p_test.cpp:9: Failure\nValue of: GetParam() < 3\n  Actual: false\n"
    "Expected: true\n[  FAILED  ] Values/P.t/0, where GetParam() = 4 (0 ms)\n"
    "[----------] 1 test from Values/P (0 ms total)\n\n"
    "[----------] Global test environment tear-down\n"
    "[==========] 4 tests from 2 test suites ran. (2 ms total)\n[  PASSED  ] 1 test.\n"
    "[  SKIPPED ] 1 test, listed below:\n[  SKIPPED ] A.skipped\n"
    "[  FAILED  ] 2 tests, listed below:\n[  FAILED  ] A.bad\n[  FAILED  ] Values/P.t/0, where GetParam() = 4\n"
    "\n 2 FAILED TESTS\n",
    // A crash in the second test: the process ends inside it.
    "[==========] Running 3 tests from 1 test suite.\n[ RUN      ] Crash.before\n[       OK ] Crash.before (0 ms)\n"
    "[ RUN      ] Crash.segv\nabout to crash\nqemu: uncaught target signal 11 (Segmentation fault) - core dumped\n",
    // A test that runs a child GoogleTest binary and echoes it (a nested run).
    "[ RUN      ] Outer.runs_child\n[==========] Running 1 test from 1 test suite.\n[ RUN      ] Inner.t\n"
    "[       OK ] Inner.t (0 ms)\n[  PASSED  ] 1 test.\n[       OK ] Outer.runs_child (5 ms)\n"
    "[ RUN      ] Outer.next\n[       OK ] Outer.next (0 ms)\n",
    // The same test's lines echoed by itself: ambiguous.
    "[ RUN      ] Self.t\n[ RUN      ] Self.t\n[       OK ] Self.t (0 ms)\n[  FAILED  ] Self.t (1 ms)\n",
    // Typed and parameterised names, a test that exits mid-way.
    "[ RUN      ] Typed/0.works\n[       OK ] Typed/0.works (0 ms)\n"
    "[ RUN      ] Inst/Param.case/7\n[       OK ] Inst/Param.case/7, where GetParam() = \"a b\" (0 ms)\n"
    "[ RUN      ] Exit.early\nbye",
};

const std::vector<std::string> kLibtestOutputs{
    "\nrunning 5 tests\n"
    "test tests::ok ... ok\n"
    "test tests::bad ... FAILED\n"
    "test tests::panics - should panic ... ok\n"
    "test tests::slow ... ignored\n"
    "test tests::reason ... ignored, needs a network\n"
    "\nfailures:\n\n"
    "---- tests::bad stdout ----\n"
    "printed by the test\n"
    "thread 'tests::bad' panicked at src/lib.rs:9:9:\nassertion `left == right` failed\n  left: 1\n right: 2\n"
    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n"
    "\n\nfailures:\n    tests::bad\n\n"
    "test result: FAILED. 2 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\n",
    // rustc 1.63's wording; a should-panic test that did not.
    "\nrunning 2 tests\ntest m::a ... ok\ntest m::no_panic - should panic ... FAILED\n\nfailures:\n\n"
    "---- m::no_panic stdout ----\nnote: test did not panic as expected\n\nfailures:\n    m::no_panic\n\n"
    "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\n",
    // An abort inside a test: the start line never ends.
    "\nrunning 3 tests\ntest t::one ... ok\ntest t::aborts ... ",
    // A test whose child process writes another libtest run to the same stdout.
    "\nrunning 2 tests\ntest cli::runs_child ... \nrunning 1 test\ntest inner ... ok\n\n"
    "test result: ok. 1 passed; 0 failed\n\nok\ntest cli::z ... ok\n\n"
    "test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.20s\n\n",
};

const std::vector<std::string> kPlainOutputs{
    "all good\n",
    "partial line",
    "",
    std::string("\0\xff\r\n[ RUN      ] A.b\ntest x ... ok\n", 32),
};

// Lines each harness prints about a test, `%` standing for its name: the
// mutator inserts them with names of the run and others.
const std::vector<std::string> kGTestLines{"[ RUN      ] %",        "[       OK ] % (0 ms)",
                                           "[  FAILED  ] % (1 ms)", "[  SKIPPED ] % (0 ms)",
                                           "[  FAILED  ] %",        "[  FAILED  ] %, where GetParam() = 1 (0 ms)",
                                           "[       OK ] %",        "[==========] 1 test ran."};
const std::vector<std::string> kLibtestLines{"test % ... ",
                                             "test % ... ok",
                                             "test % ... FAILED",
                                             "test % ... ignored",
                                             "test % - should panic ... ok",
                                             "---- % stdout ----",
                                             "failures:",
                                             "test result: ok. 1 passed",
                                             "thread '%' panicked at src/lib.rs:1:1:",
                                             "running 1 test"};

// Catch2 2.13's `--reporter xml --order decl` and doctest 2.4.9's
// `--dt-reporters=xml` (tests/fixtures/catch_suite, doctest_suite): a pass, a
// failure, output, and a crash that the framework reports and re-raises.
const std::vector<std::string> kCatch2Outputs{
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Catch name=\"catch_tests\" filters=\"passes,fails,prints to stdout,crashes with SIGSEGV\">\n"
    "  <Group name=\"catch_tests\">\n"
    "    <TestCase name=\"passes\" tags=\"[fast]\" filename=\"/src/catch_suite/catch_suite_test.cpp\" line=\"13\">\n"
    "      <OverallResult success=\"true\"/>\n"
    "    </TestCase>\n"
    "    <TestCase name=\"fails\" tags=\"[fast]\" filename=\"/src/catch_suite/catch_suite_test.cpp\" line=\"15\">\n"
    "      <Expression success=\"false\" type=\"REQUIRE\" filename=\"/src/catch_suite/catch_suite_test.cpp\" "
    "line=\"17\">\n"
    "        <Original>\n"
    "          answer == 42\n"
    "        </Original>\n"
    "        <Expanded>\n"
    "          41 == 42\n"
    "        </Expanded>\n"
    "      </Expression>\n"
    "      <OverallResult success=\"false\"/>\n"
    "    </TestCase>\n"
    "    <TestCase name=\"crashes with SIGSEGV\" filename=\"/src/catch_suite/catch_suite_test.cpp\" line=\"20\">\n"
    "before the crash\n"
    "      <FatalErrorCondition filename=\"/src/catch_suite/catch_suite_test.cpp\" line=\"20\">\n"
    "        SIGSEGV - Segmentation violation signal\n"
    "      </FatalErrorCondition>\n"
    "      <OverallResult success=\"false\"/>\n"
    "    </TestCase>\n"
    "    <OverallResults successes=\"1\" failures=\"2\" expectedFailures=\"0\"/>\n"
    "    <OverallResultsCases successes=\"1\" failures=\"2\" expectedFailures=\"0\"/>\n"
    "  </Group>\n"
    "  <OverallResults successes=\"1\" failures=\"2\" expectedFailures=\"0\"/>\n"
    "  <OverallResultsCases successes=\"1\" failures=\"2\" expectedFailures=\"0\"/>\n"
    "</Catch>",
    // Cut inside a case: the process died there.
    "<Catch name=\"t\">\n  <Group name=\"t\">\n    <TestCase name=\"a, b\" tags=\"[x]\">\n      partial",
};
const std::vector<std::string> kDoctestOutputs{
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<doctest binary=\"tests/doctest_suite-aarch64/doctest_tests\" version=\"2.4.9\">\n"
    "  <Options order_by=\"file\" rand_seed=\"0\" first=\"0\" last=\"4294967295\" abort_after=\"0\" "
    "subcase_filter_levels=\"2147483647\" case_sensitive=\"true\" no_throw=\"false\" no_skip=\"false\"/>\n"
    "  <TestSuite>\n"
    "    <TestCase name=\"passes\" filename=\"/src/doctest_suite/doctest_suite_test.cpp\" line=\"13\">\n"
    "      <OverallResultsAsserts successes=\"1\" failures=\"0\" test_case_success=\"true\"/>\n"
    "    </TestCase>\n"
    "    <TestCase name=\"fails\" filename=\"/src/doctest_suite/doctest_suite_test.cpp\" line=\"15\">\n"
    "      <Expression success=\"false\" type=\"CHECK\" filename=\"/src/doctest_suite/doctest_suite_test.cpp\" "
    "line=\"17\">\n"
    "        <Original>\n"
    "          answer == 42\n"
    "        </Original>\n"
    "        <Expanded>\n"
    "          41 == 42\n"
    "        </Expanded>\n"
    "      </Expression>\n"
    "      <OverallResultsAsserts successes=\"0\" failures=\"1\" test_case_success=\"false\"/>\n"
    "    </TestCase>\n"
    "    <TestCase name=\"crashes with SIGSEGV\" filename=\"/src/doctest_suite/doctest_suite_test.cpp\" line=\"20\">\n"
    "before the crash\n"
    "      <Exception crash=\"true\">\n"
    "        SIGSEGV - Segmentation violation signal\n"
    "      </Exception>\n"
    "      <OverallResultsAsserts successes=\"0\" failures=\"0\" test_case_success=\"false\"/>\n"
    "    </TestCase>\n"
    "  </TestSuite>\n"
    "  <OverallResultsAsserts successes=\"1\" failures=\"1\"/>\n"
    "  <OverallResultsTestCases successes=\"1\" failures=\"2\" skipped=\"13\"/>\n"
    "</doctest>\n",
    "<doctest binary=\"t\">\n  <TestSuite>\n    <TestCase name=\"x &lt;y&gt;\" filename=\"a.cpp\" line=\"1\">\n",
};
const std::vector<std::string> kCatch2Lines{"<TestCase name=\"%\" tags=\"[a]\">",
                                            "<OverallResult success=\"true\"/>",
                                            "<OverallResult success=\"false\"/>",
                                            "</TestCase>",
                                            "<FatalErrorCondition>",
                                            "<Section name=\"%\">",
                                            "</Catch>"};
const std::vector<std::string> kDoctestLines{
    "<TestCase name=\"%\" filename=\"f.cpp\" line=\"1\">",
    "<OverallResultsAsserts successes=\"1\" failures=\"0\" test_case_success=\"true\"/>",
    "<OverallResultsAsserts successes=\"0\" failures=\"1\" test_case_success=\"false\"/>",
    "</TestCase>",
    "<Exception crash=\"true\">",
    "<SubCase name=\"%\">",
    "</doctest>"};

struct StreamKind {
  TestKind kind;
  const char* name;
  const std::vector<std::string>* outputs;
  const std::vector<std::string>* lines;
};
// One row a kind: every TestKind has one (a recorded run's outputs, and the
// lines its harness prints about a test).
const std::vector<StreamKind> kStreamKinds{
    {TestKind::GTest, "gtest", &kGTestOutputs, &kGTestLines},
    {TestKind::Libtest, "libtest", &kLibtestOutputs, &kLibtestLines},
    {TestKind::Catch2, "catch2", &kCatch2Outputs, &kCatch2Lines},
    {TestKind::Doctest, "doctest", &kDoctestOutputs, &kDoctestLines},
    {TestKind::Plain, "plain", &kPlainOutputs, &kGTestLines},
};

std::vector<std::string> split_keep_newlines(const std::string& text) {
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < text.size();) {
    const auto newline = text.find('\n', at);
    const std::size_t end = newline == std::string::npos ? text.size() : newline + 1;
    lines.push_back(text.substr(at, end - at));
    at = end;
  }
  return lines;
}

std::string mutate_output(const std::string& original, const std::vector<std::string>& templates,
                          const std::vector<std::string>& names) {
  auto lines = split_keep_newlines(original);
  const auto name = [&] { return !names.empty() && !one_in(3) ? pick(names) : random_name(); };
  for (int steps = 1 + static_cast<int>(below(4)); steps > 0; --steps) {
    const std::size_t at = below(lines.size() + 1);
    switch (below(9)) {
      case 0:
      case 1: {  // a harness line about a test of the run, or another
        std::string line = pick(templates);
        if (const auto pct = line.find('%'); pct != std::string::npos) line.replace(pct, 1, name());
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at), line + (one_in(5) ? "" : "\n"));
        break;
      }
      case 2:  // a line twice
        if (at < lines.size()) lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at), lines[at]);
        break;
      case 3:  // a line dropped or cut
        if (at < lines.size()) {
          if (one_in(2))
            lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(at));
          else
            lines[at].resize(below(lines[at].size() + 1));
        }
        break;
      case 4:  // bytes flipped
        if (at < lines.size() && !lines[at].empty())
          for (int n = 1 + static_cast<int>(below(3)); n > 0; --n)
            lines[at][below(lines[at].size())] = static_cast<char>(below(256));
        break;
      case 5:  // CR before the newline (a Windows-built harness, a pty), or anywhere
        if (at < lines.size()) {
          auto& line = lines[at];
          if (!line.empty() && line.back() == '\n')
            line.insert(line.size() - 1, "\r");
          else
            line.insert(below(line.size() + 1), "\r");
        }
        break;
      case 6:  // NUL bytes
        if (at < lines.size()) lines[at].insert(below(lines[at].size() + 1), std::string(1 + below(3), '\0'));
        break;
      case 7:  // a huge line: a test printing without newlines
        if (one_in(8))
          lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at),
                       std::string(1 + below(300000), one_in(2) ? 'x' : '.') + (one_in(2) ? "\n" : ""));
        break;
      default:  // cut the whole output: the process died there
        if (!lines.empty()) lines.resize(below(lines.size() + 1));
        break;
    }
  }
  std::string out;
  for (const auto& line : lines) out += line;
  return out;
}

// What the stream says of `input`, checked against the promises of
// harness_stream.h as it goes. Returns the first violation, or "".
struct StreamRun {
  std::vector<std::string> started;
  std::string violation;
};

StreamRun follow(TestKind kind, const std::string& input, const std::vector<std::string>& expected,
                 const std::vector<std::size_t>& chunks) {
  StreamRun run;
  std::string out, current;
  std::size_t next = 0;
  HarnessStream* stream = nullptr;
  const auto fail = [&](const std::string& what) {
    if (run.violation.empty()) run.violation = what;
  };
  StreamEvents events;
  events.started = [&](const std::string& name) {
    run.started.push_back(name);
    if (name.empty()) fail("started a test of no name");
    if (!current.empty()) fail("started \"" + escaped(name) + "\" while \"" + escaped(current) + "\" is current");
    if (stream && stream->ambiguous()) fail("started \"" + escaped(name) + "\" after the stream became ambiguous");
    if (!expected.empty()) {
      if (next >= expected.size() || expected[next] != name)
        fail("started \"" + escaped(name) + "\", not the next expected test (" +
             (next < expected.size() ? "\"" + escaped(expected[next]) + "\"" : "none left") + ")");
      ++next;
    }
    current = name;
  };
  events.finished = [&](const std::string& name, Verdict) {
    if (name.empty() || name != current)
      fail("finished \"" + escaped(name) + "\" while the current test is \"" + escaped(current) + "\"");
    if (stream && stream->ambiguous()) fail("finished \"" + escaped(name) + "\" after the stream became ambiguous");
    current.clear();
  };
  events.output = [&](const std::string&, std::string_view bytes) { out.append(bytes); };
  auto owned = make_harness_stream(kind, std::move(events), expected);
  stream = owned.get();
  bool was_ambiguous = false;
  std::size_t at = 0;
  for (std::size_t n : chunks) {
    stream->feed(std::string_view(input).substr(at, n));
    at += n;
    if (stream->current() != current)
      fail("current() is \"" + escaped(stream->current()) + "\" after the events said \"" + escaped(current) + "\"");
    if (was_ambiguous && !stream->ambiguous()) fail("ambiguous() went back to false");
    was_ambiguous = stream->ambiguous();
  }
  stream->finish();
  if (was_ambiguous && !stream->ambiguous()) fail("ambiguous() went back to false at finish()");
  if (out != input)
    fail("the output events do not add up to the input (" + std::to_string(out.size()) + " bytes of " +
         std::to_string(input.size()) + "; first difference at " +
         std::to_string(std::mismatch(out.begin(),
                                      out.begin() + static_cast<std::ptrdiff_t>(std::min(out.size(), input.size())),
                                      input.begin())
                            .first -
                        out.begin()) +
         ")");
  return run;
}

void fuzz_streams(Fuzz& f, std::size_t iterations) {
  // The tests each recorded output starts when followed without
  // expectations: the names a process of that run would be asked for.
  std::vector<std::vector<std::vector<std::string>>> names;
  for (const auto& k : kStreamKinds) {
    names.emplace_back();
    for (const auto& output : *k.outputs) names.back().push_back(follow(k.kind, output, {}, {output.size()}).started);
  }
  for (f.iteration = 0; f.iteration < iterations; ++f.iteration) {
    rng.seed(f.seed * 1000003ull + f.iteration);
    const std::size_t k = f.iteration % kStreamKinds.size();
    const auto& kind = kStreamKinds[k];
    const std::size_t which = below(kind.outputs->size());
    const auto& run_names = names[k][which];
    const std::string input =
        one_in(10) ? (*kind.outputs)[which] : mutate_output((*kind.outputs)[which], *kind.lines, run_names);
    // What the scheduler passes: the run's tests in order (a shard), a part
    // of them (a retry of the rest), or nothing.
    std::vector<std::string> expected;
    switch (below(3)) {
      case 0:
        expected = run_names;
        break;
      case 1:
        for (const auto& name : run_names)
          if (!one_in(3)) expected.push_back(name);
        break;
      default:
        break;
    }
    const auto chunks = chunking(input.size());
    std::string context = std::string("kind ") + kind.name + ", expected {";
    for (const auto& name : expected) context += "\"" + escaped(name) + "\" ";
    context += "}, " + std::to_string(chunks.size()) + " chunks";
    ++f.inputs;
    try {
      const auto run = follow(kind.kind, input, expected, chunks);
      if (!run.violation.empty()) f.violation(run.violation, input, context);
      // The failure text is a part of the output's lines; the arguments are
      // made for any names (xrun passes what the listing said).
      const std::string failure = failure_text(kind.kind, input);
      if (failure.size() > input.size()) f.violation("failure_text is longer than the output", input, context);
      std::vector<std::string> odd = run_names;
      odd.push_back(random_name());
      odd.push_back(input.substr(0, below(64)));
      (void)harness_arguments(kind.kind, odd);
    } catch (const std::exception& e) {
      f.violation(std::string("an exception: ") + e.what(), input, context);
    }
  }
}

// ------------------------------------------------------------ listings ---

// What `--gtest_list_tests` and libtest's `--list` print.
const std::vector<std::string> kGTestListings{
    "Running main() from ./googletest/src/gtest_main.cc\n"
    "A.\n  ok\n  bad\n  DISABLED_later\n"
    "Typed/0.  # TypeParam = int\n  works\n"
    "Inst/Param.\n  case/0  # GetParam() = 1\n  case/1  # GetParam() = \"a  # b\"\n"
    "DISABLED_Suite.\n  t\n",
    "Locale.\n  Parse\n",
};
const std::vector<std::string> kLibtestListings{
    "tests::ok: test\ntests::bad: test\ntests::slow: test\nbench_x: benchmark\n\n3 tests, 1 benchmark\n",
    "m::a: test\n",
};
const std::vector<std::string> kLibtestIgnored{"tests::slow: test\n", ""};

const std::vector<std::string> kCatch2Listings{"passes\nfails\nhidden by a dot\nname, with a comma\n*star first\n",
                                               "a\n  continued\n"};
const std::vector<std::string> kDoctestListings{
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doctest binary=\"t\" version=\"2.4.9\">\n"
    "  <TestCase name=\"passes\" filename=\"a.cpp\" line=\"13\" skipped=\"false\"/>\n"
    "  <TestCase name=\"skipped\" filename=\"a.cpp\" line=\"32\" skipped=\"true\"/>\n"
    "  <TestCase name=\"xml &lt;&amp;> &quot;special&quot;\" testsuite=\"s\" filename=\"a.cpp\" line=\"51\" "
    "skipped=\"false\"/>\n"
    "  <OverallResultsTestCases unskipped=\"2\"/>\n</doctest>\n"};

struct ListingKind {
  TestKind kind;
  const char* name;
  const std::vector<std::string>* listings;
  std::function<std::vector<TestCase>(const std::string& binary, const std::string& listing)> parse;
};
// One row a kind that lists its tests.
const std::vector<ListingKind> kListingKinds{
    {TestKind::GTest, "gtest", &kGTestListings,
     [](const std::string& binary, const std::string& listing) { return parse_gtest_list(binary, listing); }},
    {TestKind::Libtest, "libtest", &kLibtestListings,
     [](const std::string& binary, const std::string& listing) {
       // The ignored listing: mutated as well, or a part of the listing.
       return parse_libtest_list(binary, listing,
                                 one_in(2) ? listing.substr(below(listing.size() + 1))
                                           : mutate_output(pick(kLibtestIgnored), {"%: test"}, {}));
     }},
    {TestKind::Catch2, "catch2", &kCatch2Listings,
     [](const std::string& binary, const std::string& listing) {
       // v2 lists all, then the hidden ones ("[.]"): the second a part of the first, or mutated.
       const std::string hidden =
           one_in(2) ? listing.substr(below(listing.size() + 1)) : std::string("hidden by a dot\n");
       return parse_catch2_list(binary, {listing, hidden});
     }},
    {TestKind::Doctest, "doctest", &kDoctestListings,
     [](const std::string& binary, const std::string& listing) { return parse_doctest_list(binary, listing); }},
};

void fuzz_listings(Fuzz& f, std::size_t iterations) {
  const std::vector<std::string> templates{
      "%", "  %", "%.", "%: test", "%: benchmark", "  %  # GetParam() = 1", "%.  # TypeParam = int", "  #", "."};
  for (f.iteration = 0; f.iteration < iterations; ++f.iteration) {
    rng.seed(f.seed * 1000003ull + f.iteration);
    const auto& kind = kListingKinds[f.iteration % kListingKinds.size()];
    const std::string input = mutate_output(pick(*kind.listings), templates, {"A", "m::a", "t", "Suite"});
    const std::string binary = "/build/" + random_name();
    const std::string context = std::string("kind ") + kind.name;
    ++f.inputs;
    try {
      for (const auto& test : kind.parse(binary, input)) {
        if (test.name.empty())
          f.violation("a test of no name", input, context);
        else if (test.name.find('\n') != std::string::npos)
          f.violation("a name with a newline: \"" + escaped(test.name) + "\"", input, context);
        else if (test.binary != binary)
          f.violation("a test without its binary", input, context);
        else if (test.kind != kind.kind)
          f.violation("a test of another kind", input, context);
        else
          continue;
        break;
      }
    } catch (const std::exception& e) {
      f.violation(std::string("an exception: ") + e.what(), input, context);
    }
  }
}

// -------------------------------------------------------------- frames ---

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

std::string random_bytes(std::size_t limit) {
  std::string s(below(limit + 1), '\0');
  for (auto& c : s) c = static_cast<char>(one_in(2) ? 'a' + below(26) : below(256));
  return s;
}
std::uint32_t random_u32() {
  static const std::vector<std::uint32_t> edges{
      0, 1, 2, 3, 4, 5, 7, 8, 16, 0x7fffffff, 0x80000000, 0xffffffff, XRUN_AGENT_MAX_FRAME, XRUN_AGENT_MAX_FRAME + 1};
  return one_in(2) ? pick(edges) : static_cast<std::uint32_t>(rng());
}

// A guest -> host frame as the agent writes it (protocol.h), and the frame
// the reader must make of it.
struct Made {
  std::string bytes;
  AgentFrame frame;
  std::optional<PulledPiece> pulled;
  std::optional<FilesAck> ack;
};

Made valid_frame() {
  static const std::vector<std::uint8_t> types{
      XRUN_HELLO_ACK, XRUN_STARTED, XRUN_STDOUT,    XRUN_STDERR, XRUN_EXIT, XRUN_LOG,
      XRUN_FILES_ACK, XRUN_PULLED,  XRUN_PULL_DONE, 0x8f,        0x42};
  Made m;
  AgentFrame& f = m.frame;
  f.type = pick(types);
  std::string p;
  switch (f.type) {
    case XRUN_HELLO_ACK:
      f.job = random_u32();
      f.data = random_bytes(40);
      put_u32(p, f.job);
      put_str(p, f.data);
      break;
    case XRUN_STARTED:
      f.job = random_u32();
      f.value = random_u32();
      put_u32(p, f.job);
      put_u32(p, f.value);
      break;
    case XRUN_STDOUT:
    case XRUN_STDERR:
      f.job = random_u32();
      f.data = random_bytes(one_in(20) ? 70000 : 300);
      put_u32(p, f.job);
      p += f.data;
      break;
    case XRUN_EXIT:
      f.job = random_u32();
      f.value = static_cast<std::uint32_t>(below(5));
      f.code = static_cast<std::int32_t>(random_u32());
      f.data = random_bytes(60);
      put_u32(p, f.job);
      put_u32(p, f.value);
      put_u32(p, static_cast<std::uint32_t>(f.code));
      put_str(p, f.data);
      break;
    case XRUN_LOG:
      f.data = random_bytes(100);
      put_str(p, f.data);
      break;
    case XRUN_FILES_ACK: {
      f.job = random_u32();
      FilesAck ack;
      ack.prefix = random_bytes(20);
      for (std::size_t n = below(6); n > 0; --n) ack.missing.push_back(random_u32());
      ack.error = random_bytes(20);
      put_u32(p, f.job);
      std::string rest;
      put_str(rest, ack.prefix);
      put_u32(rest, static_cast<std::uint32_t>(ack.missing.size()));
      for (auto index : ack.missing) put_u32(rest, index);
      put_str(rest, ack.error);
      f.data = rest;
      p += rest;
      m.ack = ack;
      break;
    }
    case XRUN_PULLED: {
      f.job = random_u32();
      PulledPiece piece;
      piece.path = random_bytes(30);
      piece.mode = random_u32();
      piece.mtime_ns = rng();
      piece.last = one_in(2);
      piece.bytes = random_bytes(200);
      put_u32(p, f.job);
      std::string rest;
      put_str(rest, piece.path);
      put_u32(rest, piece.mode);
      put_u32(rest, static_cast<std::uint32_t>(piece.mtime_ns));
      put_u32(rest, static_cast<std::uint32_t>(piece.mtime_ns >> 32));
      put_u32(rest, piece.last ? 1 : 0);
      rest += piece.bytes;
      f.data = rest;
      p += rest;
      m.pulled = piece;
      break;
    }
    case XRUN_PULL_DONE: {
      f.job = random_u32();
      std::string rest;
      put_str(rest, random_bytes(20));
      f.data = rest;
      put_u32(p, f.job);
      p += rest;
      break;
    }
    default:  // unknown to this xrun: skipped, with its type
      p = random_bytes(30);
      break;
  }
  put_u32(m.bytes, static_cast<std::uint32_t>(p.size() + 1));
  m.bytes.push_back(static_cast<char>(f.type));
  m.bytes += p;
  return m;
}

std::string differs(const AgentFrame& got, const AgentFrame& want) {
  if (got.type != want.type) return "type " + std::to_string(got.type) + " for " + std::to_string(want.type);
  if (got.job != want.job) return "job " + std::to_string(got.job) + " for " + std::to_string(want.job);
  if (got.value != want.value) return "value " + std::to_string(got.value) + " for " + std::to_string(want.value);
  if (got.code != want.code) return "code " + std::to_string(got.code) + " for " + std::to_string(want.code);
  if (want.type < 0x80 || want.type > XRUN_PULL_DONE) return "";  // unknown: only the type is promised
  if (got.data != want.data) return "data \"" + escaped(got.data, 80) + "\" for \"" + escaped(want.data, 80) + "\"";
  return "";
}

void fuzz_frames(Fuzz& f, std::size_t iterations) {
  for (f.iteration = 0; f.iteration < iterations; ++f.iteration) {
    rng.seed(f.seed * 1000003ull + f.iteration);
    std::vector<Made> frames(1 + below(8));
    std::string input;
    for (auto& m : frames) {
      m = valid_frame();
      input += m.bytes;
    }
    // Half the inputs stay valid and must come back frame for frame; the
    // others are mutated, and only the reader's own promises hold.
    const bool valid = one_in(2);
    // Or valid frames, then a frame's start whose length is over the limit:
    // refused as soon as its five bytes are in, the frames before it read.
    const bool huge_length = !valid && one_in(5);
    if (huge_length) {
      put_u32(input, XRUN_AGENT_MAX_FRAME + 1 + static_cast<std::uint32_t>(below(0x7fffffff)));
      input.push_back(static_cast<char>(XRUN_STDOUT));
    } else if (!valid) {
      for (int n = 1 + static_cast<int>(below(3)); n > 0; --n) {
        switch (below(4)) {
          case 0:
            input[below(input.size())] = static_cast<char>(below(256));
            break;
          case 1:
            input.resize(below(input.size() + 1));
            break;
          case 2: {  // a length field (at a frame's start) to an edge value
            std::size_t at = 0;
            for (std::size_t i = below(frames.size()); i > 0; --i) at += frames[i - 1].bytes.size();
            std::string length;
            put_u32(length, random_u32());
            if (at + 4 <= input.size()) input.replace(at, 4, length);
            break;
          }
          default:
            input.insert(below(input.size() + 1), random_bytes(12));
            break;
        }
      }
    }
    const std::string context = valid         ? "valid frames"
                                : huge_length ? "valid frames, then a huge length"
                                              : "mutated frames";
    ++f.inputs;
    try {
      AgentFrameReader reader;
      std::vector<AgentFrame> got;
      bool was_corrupt = false;
      std::size_t at = 0;
      g_largest_allocation = 0;
      for (std::size_t n : chunking(input.size())) {
        g_track_allocations = true;
        reader.feed(std::string_view(input).substr(at, n));
        at += n;
        while (auto frame = reader.next()) got.push_back(std::move(*frame));
        g_track_allocations = false;
        // The buffer of what was fed (its capacity at most doubles), frames
        // cut from it, the list of frames: never much more than the input.
        if (g_largest_allocation > 2 * input.size() + 4096)
          f.violation("allocated " + std::to_string(g_largest_allocation) + " bytes for a " +
                          std::to_string(input.size()) + "-byte input",
                      input, context);
        if (was_corrupt && !reader.corrupt()) f.violation("corrupt() went back to false", input, context);
        if (reader.corrupt() && reader.next()) f.violation("a frame after corrupt()", input, context);
        was_corrupt = reader.corrupt();
      }
      g_track_allocations = false;
      if (huge_length && (!reader.corrupt() || got.size() != frames.size()))
        f.violation("a length over XRUN_AGENT_MAX_FRAME: corrupt() " + std::to_string(reader.corrupt()) + " after " +
                        std::to_string(got.size()) + " of the " + std::to_string(frames.size()) + " frames before it",
                    input, context);
      for (const auto& frame : got) {  // decoders on whatever came out
        if (frame.type == XRUN_PULLED) (void)decode_pulled(frame.data);
        if (frame.type == XRUN_FILES_ACK) (void)decode_files_ack(frame.data);
      }
      (void)decode_pulled(input);
      (void)decode_files_ack(input);
      if (valid) {
        if (reader.corrupt()) f.violation("valid frames read as corrupt", input, context);
        if (got.size() != frames.size())
          f.violation(std::to_string(got.size()) + " frames read of " + std::to_string(frames.size()), input, context);
        for (std::size_t i = 0; i < got.size() && i < frames.size(); ++i) {
          if (auto d = differs(got[i], frames[i].frame); !d.empty()) {
            f.violation("frame " + std::to_string(i) + ": " + d, input, context);
            break;
          }
          if (frames[i].pulled) {
            const auto piece = decode_pulled(got[i].data);
            const auto& want = *frames[i].pulled;
            if (!piece || piece->path != want.path || piece->mode != want.mode || piece->mtime_ns != want.mtime_ns ||
                piece->last != want.last || piece->bytes != want.bytes)
              f.violation("frame " + std::to_string(i) + ": PULLED does not decode to what was sent", input, context);
          }
          if (frames[i].ack) {
            const auto ack = decode_files_ack(got[i].data);
            const auto& want = *frames[i].ack;
            if (!ack || ack->prefix != want.prefix || ack->missing != want.missing || ack->error != want.error)
              f.violation("frame " + std::to_string(i) + ": FILES_ACK does not decode to what was sent", input,
                          context);
          }
        }
      }
    } catch (const std::exception& e) {
      g_track_allocations = false;
      f.violation(std::string("an exception: ") + e.what(), input, context);
    }
  }
}

// ------------------------------------------------------------- reports ---

using Json = nlohmann::json;

Json edge_json() {
  static const std::vector<Json> values{nullptr,
                                        true,
                                        false,
                                        0,
                                        -1,
                                        1,
                                        255,
                                        256,
                                        4294967296LL,
                                        -9223372036854775807LL,
                                        18446744073709551615ULL,
                                        1e300,
                                        -1e300,
                                        0.5,
                                        -0.0,
                                        "",
                                        "passed",
                                        "failed",
                                        "crashed",
                                        "not-run",
                                        "flaky",
                                        "nonsense",
                                        std::string(300, 'y'),
                                        Json::array(),
                                        Json::object(),
                                        Json::array({1, "a"}),
                                        Json::object({{"a", 1}})};
  return pick(values);
}

void mutate_json(Json& j) {
  for (Json* node = &j;;) {
    if (node->is_object() && !node->empty() && !one_in(3)) {
      auto it = node->begin();
      std::advance(it, static_cast<long>(below(node->size())));
      if (one_in(6)) {
        node->erase(it);
        return;
      }
      node = &it.value();
    } else if (node->is_array() && !node->empty() && !one_in(3)) {
      const std::size_t at = below(node->size());
      if (one_in(6)) {
        node->push_back((*node)[at]);
        return;
      }
      node = &(*node)[at];
    } else {
      *node = edge_json();
      return;
    }
  }
}

std::string seed_report() {
  RunReport report;
  report.started_at = "2026-11-22T10:00:00Z";
  report.duration_seconds = 3.5;
  report.partition = "1/2";
  report.command_line = {"xrun", "test", "./suite", "--json", "r.json"};
  report.host = "ci-runner-3 (x86_64)";
  const std::vector<std::pair<Status, std::string>> statuses{
      {Status::Passed, "A.ok"},       {Status::Failed, "A.bad"},   {Status::Crashed, "A.segv"},
      {Status::TimedOut, "A.hangs"},  {Status::Skipped, "A.skip"}, {Status::Flaky, "A.flaky"},
      {Status::InfraError, "A.qemu"}, {Status::NotRun, "A.later"}};
  for (const auto& [status, name] : statuses) {
    TestResult t;
    t.binary = "/build/suite";
    t.name = name;
    t.status = status;
    t.duration_seconds = 0.25;
    t.attempts = status == Status::Flaky ? 2 : 1;
    t.output = "[ RUN      ] " + name + "\nsome output \xc3\xa9\n";
    if (status == Status::Crashed) t.signal = 11, t.message = "SIGSEGV (signal 11)";
    if (status == Status::Failed) t.exit_code = 1, t.failure = "a.cpp:3: Failure";
    t.backend = "qemu-user";
    t.target = "aarch64";
    if (status == Status::Flaky) t.history = {Attempt{}, Attempt{}};
    report.tests.push_back(t);
  }
  return to_json(report);
}

void fuzz_reports(Fuzz& f, std::size_t iterations) {
  const std::string original = seed_report();
  const Json parsed = Json::parse(original);
  for (f.iteration = 0; f.iteration < iterations; ++f.iteration) {
    rng.seed(f.seed * 1000003ull + f.iteration);
    Json j = parsed;
    for (int n = 1 + static_cast<int>(below(3)); n > 0; --n) mutate_json(j);
    std::string input = j.dump();
    switch (below(6)) {  // text no JSON writer makes
      case 0:
        input[below(input.size())] = static_cast<char>(below(256));
        break;
      case 1:
        input.resize(below(input.size()));
        break;
      case 2: {
        static const std::vector<std::string> raw{
            "1e999", "-1e999", "99999999999999999999999", "NaN", "\"\\ud800\"", "01", "\"\xff\xfe\""};
        const std::size_t at = input.find(':', below(input.size()));
        if (at != std::string::npos) input.insert(at + 1, pick(raw) + ",");
        break;
      }
      default:
        break;
    }
    ++f.inputs;
    try {
      auto report = report_from_json(input, "fuzz.json");
      if (!report) {
        if (report.error().message.rfind("fuzz.json", 0) != 0)
          f.violation("an error that does not name the file: " + report.error().message, input);
        continue;
      }
      // What was accepted is a report: written and read again, the same.
      const std::string once = to_json(*report);
      auto again = report_from_json(once, "again.json");
      if (!again)
        f.violation("its own rewrite is refused: " + again.error().message, input);
      else if (to_json(*again) != once)
        f.violation("reading its own rewrite changes it", input);
    } catch (const std::exception& e) {
      f.violation(std::string("an exception: ") + e.what(), input);
    }
  }
}

// ---------------------------------------------------------------- probes ---

std::vector<std::string> g_probe_files;  // the FILEs of the command line

void put_le(std::string& b, std::size_t at, int size, std::uint64_t v) {
  if (b.size() < at + static_cast<std::size_t>(size)) b.resize(at + static_cast<std::size_t>(size));
  for (int i = 0; i < size; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// Headers of each format as small as a probe accepts, for when no FILE is given.
std::vector<std::string> probe_seeds() {
  std::vector<std::string> seeds;
  // PE32+: a DOS header pointing at "PE\0\0", a COFF header, an optional
  // header as far as its CLR directory.
  std::string pe(0x80 + 24 + 240, '\0');
  pe[0] = 'M', pe[1] = 'Z';
  put_le(pe, 0x3c, 4, 0x80);
  pe.replace(0x80, 4, std::string("PE\0\0", 4));
  put_le(pe, 0x84, 2, 0x8664);
  put_le(pe, 0x84 + 16, 2, 240);
  put_le(pe, 0x84 + 18, 2, 0x22);
  put_le(pe, 0x98, 2, 0x20b);
  put_le(pe, 0x98 + 68, 2, 3);
  put_le(pe, 0x98 + 108, 4, 16);
  seeds.push_back(pe);
  // A WebAssembly module: a type section, imports from WASI (a function, a
  // memory), a memory section.
  std::string wasm("\0asm\1\0\0\0", 8);
  wasm += std::string("\x01\x04\x01\x60\x00\x00", 6);
  const std::string module = "wasi_snapshot_preview1";
  std::string imports = "\x02";
  imports += static_cast<char>(module.size()) + module + "\x08proc_exit\x00\x00";
  imports += static_cast<char>(module.size()) + module + "\x06memory\x02\x01\x01\x02";
  wasm += "\x02";
  wasm += static_cast<char>(imports.size());
  wasm += imports;
  wasm += std::string("\x05\x03\x01\x04\x01", 5);
  seeds.push_back(wasm);
  // A 64-bit ELF executable: its header and one PT_LOAD.
  std::string elf(64 + 56, '\0');
  elf.replace(0, 8,
              std::string("\x7f"
                          "ELF\x02\x01\x01\x00",
                          8));
  put_le(elf, 0x10, 2, 2), put_le(elf, 0x12, 2, 183), put_le(elf, 0x14, 4, 1), put_le(elf, 0x20, 8, 64);
  put_le(elf, 0x34, 2, 64), put_le(elf, 0x36, 2, 56), put_le(elf, 0x38, 2, 1);
  put_le(elf, 64, 4, 1), put_le(elf, 64 + 4, 4, 5), put_le(elf, 64 + 0x10, 8, 0x400000);
  put_le(elf, 64 + 0x20, 8, elf.size()), put_le(elf, 64 + 0x28, 8, elf.size()), put_le(elf, 64 + 0x30, 8, 0x1000);
  seeds.push_back(elf);
  seeds.push_back("#!/bin/sh -e\necho hi\n");
  return seeds;
}

// What an answer says, to compare two reads of the same bytes.
std::string probe_summary(const BinaryInfo& info) {
  return std::string(format_name(info.format)) + "|" + info.describe() + "|" + info.architecture() + "|" +
         std::to_string(info.bits()) + "|" + std::string(os_name(info.os())) + "|" + std::to_string(info.size) + "|" +
         (info.problem ? info.problem->message : "");
}

void fuzz_probes(Fuzz& f, std::size_t iterations) {
  std::vector<std::string> seeds = probe_seeds();
  for (const auto& file : g_probe_files) {
    std::ifstream in(file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.empty()) {
      std::fprintf(stderr, "xrun_parser_fuzz: cannot read %s\n", file.c_str());
      ++f.violations;
      return;
    }
    seeds.push_back(std::move(bytes));
  }
  const int memfd = static_cast<int>(::memfd_create("xrun-probe-fuzz", MFD_CLOEXEC));
  static const std::vector<std::uint64_t> edges{0,     1,      2,       0x3c,       0x40,       0x7f,       0x80, 0xff,
                                                0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, ~0ull};
  for (f.iteration = 0; f.iteration < iterations; ++f.iteration) {
    rng.seed(f.seed * 1000003ull + f.iteration);
    std::string input = pick(seeds);
    // Headers are where the probe reads: most changes go to the first 512 bytes.
    const std::size_t reach = std::min<std::size_t>(input.size(), one_in(4) ? input.size() : 512);
    for (int n = 1 + static_cast<int>(below(6)); n > 0 && reach > 0; --n) {
      switch (below(4)) {
        case 0:
          input[below(reach)] = static_cast<char>(below(256));
          break;
        case 1: {
          const int size = 1 << below(4);
          put_le(input, below(reach), size, pick(edges));
          break;
        }
        case 2:
          input[below(reach)] ^= static_cast<char>(1 << below(8));
          break;
        default:
          input.resize(below(input.size() + 1));
          break;
      }
    }
    ++f.inputs;
    try {
      const std::string path = "fuzz.bin";
      const BinaryInfo info = probe_binary(ByteSource::memory(input), path);
      if (info.size != input.size()) f.violation("the size is not the input's", input);
      if (info.problem && info.problem->message.rfind(path + ":", 0) != 0)
        f.violation("a problem that does not name the file: " + info.problem->message, input);
      if (info.describe().empty()) f.violation("an empty description", input);
      switch (info.format) {
        case BinaryFormat::Elf:
          if (info.elf.has_value() == info.problem.has_value()) f.violation("an ELF file with both or neither", input);
          if (input.compare(0, 4,
                            "\x7f"
                            "ELF") != 0)
            f.violation("ELF without its magic", input);
          break;
        case BinaryFormat::Pe:
          if (info.pe ? info.pe->architecture().empty() : !info.problem)
            f.violation("a PE file with neither its machine nor a problem", input);
          if (input.compare(0, 2, "MZ") != 0) f.violation("PE without MZ", input);
          break;
        case BinaryFormat::Wasm:
          if (input.compare(0, 4, std::string("\0asm", 4)) != 0) f.violation("WebAssembly without its magic", input);
          if (!info.wasm && !info.problem) f.violation("a WebAssembly module with neither facts nor a problem", input);
          break;
        case BinaryFormat::Script:
          if (input.compare(0, 2, "#!") != 0) f.violation("a script without #!", input);
          break;
        case BinaryFormat::Unknown:
          if (!info.problem) f.violation("an unknown file without a problem", input);
          break;
      }
      // The same bytes through a descriptor (a single run's pread): the same answer.
      if (memfd >= 0 && ::ftruncate(memfd, 0) == 0 &&
          ::pwrite(memfd, input.data(), input.size(), 0) == static_cast<ssize_t>(input.size())) {
        const BinaryInfo read = probe_binary(ByteSource::descriptor(memfd, input.size()), path);
        if (probe_summary(read) != probe_summary(info))
          f.violation("another answer through a descriptor", input, probe_summary(info) + " vs " + probe_summary(read));
      }
    } catch (const std::exception& e) {
      f.violation(std::string("an exception: ") + e.what(), input);
    }
  }
  if (memfd >= 0) ::close(memfd);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  std::size_t iterations = 2000;
  Fuzz f;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--iterations" && i + 1 < argc)
      iterations = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--seed" && i + 1 < argc)
      f.seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--out" && i + 1 < argc)
      f.out_dir = argv[++i];
    else if (a.rfind("-", 0) != 0)
      g_probe_files.push_back(a);
    else {
      std::fprintf(stderr, "xrun_parser_fuzz: unknown argument \"%s\"\n", a.c_str());
      return 2;
    }
  }
  const std::vector<std::pair<std::string, void (*)(Fuzz&, std::size_t)>> targets{{"streams", fuzz_streams},
                                                                                  {"listings", fuzz_listings},
                                                                                  {"frames", fuzz_frames},
                                                                                  {"reports", fuzz_reports},
                                                                                  {"probes", fuzz_probes}};
  bool known = mode == "all";
  for (const auto& [name, run] : targets) known |= name == mode;
  if (!known) {
    std::fprintf(
        stderr,
        "usage: xrun_parser_fuzz streams|listings|frames|reports|probes|all [--iterations N] [--seed S] [--out DIR] "
        "[FILE...]\n");
    return 2;
  }
  const bool own_dir = f.out_dir.empty();
  if (own_dir) {
    char dir[] = "/tmp/xrun-parser-fuzz-XXXXXX";
    if (!::mkdtemp(dir)) return 2;
    f.out_dir = dir;
  }
  int status = 0;
  for (const auto& [name, run] : targets) {
    if (mode != "all" && mode != name) continue;
    Fuzz t = f;
    t.target = name;
    const auto start = std::chrono::steady_clock::now();
    run(t, iterations);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("xrun_parser_fuzz %s: %zu inputs (seed %llu) in %.2f s, %.0f/s, %d violations\n", name.c_str(),
                t.inputs, t.seed, seconds, static_cast<double>(t.inputs) / std::max(seconds, 1e-9), t.violations);
    if (t.violations) status = 1;
  }
  if (status == 0 && own_dir)
    ::rmdir(f.out_dir.c_str());
  else
    std::printf("violating inputs kept in %s\n", f.out_dir.c_str());
  return status;
}
