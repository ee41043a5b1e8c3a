#include "engine/discovery.h"

#include <gtest/gtest.h>

#include "core/fs_util.h"
#include "support/paths.h"
#include "support/temp_dir.h"

using namespace xrun;

TEST(Discovery, DetectsTheKindFromTheBinary) {
  EXPECT_EQ(*detect_kind(XRUN_GTEST_SAMPLE), TestKind::GTest);
  EXPECT_EQ(*detect_kind(xrun::testing::helper("aarch64", "dynamic")), TestKind::Plain);
  EXPECT_FALSE(detect_kind("/nonexistent/binary"));
}

TEST(Discovery, ParsesGTestListingsWithTypedParameterizedAndDisabledTests) {
  const char* listing =
      "Running main() from gtest_main.cc\n"
      "Pass.\n  Simple\n"
      "Disabled.\n  DISABLED_Never\n"
      "DISABLED_Suite.\n  Never\n"
      "Typed/0.  # TypeParam = int\n  Zero\n"
      "Values/Param.\n  Positive/0  # GetParam() = 1\n";
  auto tests = parse_gtest_list("/b", listing);
  ASSERT_EQ(tests.size(), 5u);
  EXPECT_EQ(tests[0].name, "Pass.Simple");
  EXPECT_FALSE(tests[0].skip_reason);
  EXPECT_EQ(tests[1].skip_reason, "disabled");
  EXPECT_EQ(tests[2].skip_reason, "disabled");
  EXPECT_EQ(tests[3].name, "Typed/0.Zero");
  EXPECT_EQ(tests[4].name, "Values/Param.Positive/0");
  EXPECT_EQ(tests[4].kind, TestKind::GTest);
}

TEST(Discovery, ParsesLibtestListingsAndMarksIgnored) {
  auto tests = parse_libtest_list("/b", "a::one: test\na::two: test\nbench_x: benchmark\n\n2 tests, 1 benchmark\n",
                                  "a::two: test\n");
  ASSERT_EQ(tests.size(), 2u);
  EXPECT_EQ(tests[0].name, "a::one");
  EXPECT_FALSE(tests[0].skip_reason);
  EXPECT_EQ(tests[1].skip_reason, "ignored");
}

TEST(Discovery, CacheRoundTripsAndIsKeyedByContent) {
  xrun::testing::TempDir dir;
  ListingCache cache(dir.path() + "/cache");
  const std::string binary = dir.write("bin", "content one");
  std::vector<TestCase> tests = parse_gtest_list(binary, "S.\n  a\n  DISABLED_b\n");
  EXPECT_FALSE(cache.load(binary, TestKind::GTest));
  cache.store(binary, TestKind::GTest, tests);
  auto loaded = cache.load(binary, TestKind::GTest);
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->tests.size(), 2u);
  EXPECT_EQ(loaded->tests[1].name, "S.DISABLED_b");
  EXPECT_EQ(loaded->tests[1].skip_reason, "disabled");
  dir.write("bin", "content two");  // rebuilt binary: the listing is stale
  EXPECT_FALSE(cache.load(binary, TestKind::GTest));
}

// CTest's ENVIRONMENT "GTEST_FILTER=Locale.*" lists one test of a binary:
// that listing is not the binary's whole list (it was, and a later `xrun
// test` of the binary silently ran that one test).
TEST(Discovery, AListingIsCachedForTheEnvironmentItRanWith) {
  xrun::testing::TempDir dir;
  ListingCache cache(dir.path() + "/cache");
  const std::string binary = dir.write("bin", "content");
  cache.store(binary, TestKind::GTest, parse_gtest_list(binary, "Locale.\n  CUtf8\n"), {"GTEST_FILTER=Locale.*"});
  EXPECT_FALSE(cache.load(binary, TestKind::GTest)) << "the filtered listing stood for the whole one";
  cache.store(binary, TestKind::GTest, parse_gtest_list(binary, "Locale.\n  CUtf8\nTmp.\n  A\n"));
  auto filtered = cache.load(binary, TestKind::GTest, {"GTEST_FILTER=Locale.*"});
  ASSERT_TRUE(filtered);
  EXPECT_EQ(filtered->tests.size(), 1u);
  auto whole = cache.load(binary, TestKind::GTest);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->tests.size(), 2u);
}

// A listing that reads ./cases.txt lists other cases in another directory,
// or once the file changed: neither may come from the cache. The run's own
// report files do not count.
TEST(Discovery, AListingIsCachedForTheDirectoryAndTheFilesItRanWith) {
  xrun::testing::TempDir dir;
  ListingCache cache(dir.path() + "/cache");
  cache.ignore_files({dir.path() + "/here/report.json"});
  const std::string binary = dir.write("bin", "content");
  const std::string here = dir.path() + "/here", there = dir.path() + "/there";
  dir.write("here/cases.txt", "one\ntwo\n");
  dir.write("there/cases.txt", "three\n");
  cache.store(binary, TestKind::GTest, parse_gtest_list(binary, "P.\n  one\n  two\n"), {}, here);
  ASSERT_TRUE(cache.load(binary, TestKind::GTest, {}, here));
  EXPECT_FALSE(cache.load(binary, TestKind::GTest, {}, there)) << "another directory, other data";
  dir.write("here/report.json", "{}");
  EXPECT_TRUE(cache.load(binary, TestKind::GTest, {}, here)) << "the run's own report is not listing input";
  dir.write("here/cases.txt", "one\ntwo\nthree, which fails\n");
  EXPECT_FALSE(cache.load(binary, TestKind::GTest, {}, here)) << "the data changed";
}

// An empty listing is what a harness that never listed looks like: it is
// not stored, so another backend (or a fixed one) lists again.
TEST(Discovery, AnEmptyListingIsNeverCached) {
  xrun::testing::TempDir dir;
  ListingCache cache(dir.path() + "/cache");
  const std::string binary = dir.write("bin", "content");
  cache.store(binary, TestKind::Libtest, {});
  EXPECT_FALSE(cache.load(binary, TestKind::Libtest));
}

#include <signal.h>

#include "engine/scheduler.h"
#include "support/fake_job_runner.h"
#include "support/manual_time.h"

namespace {

using xrun::testing::FakeJobRunner;
using xrun::testing::ManualTime;

std::vector<BinarySpec> gtest_binaries(const std::vector<std::string>& paths) {
  std::vector<BinarySpec> out;
  for (const auto& path : paths) {
    BinarySpec spec;
    spec.path = path;
    spec.kind = TestKind::GTest;
    out.push_back(spec);
  }
  return out;
}

// A listing that hangs is killed when the timeout gives up on it, and it has
// ended before discover_tests returns (its callbacks refer to the listing).
// The clock is the test's: the 300 s pass at once, and exactly.
TEST(Discovery, AHangingListingIsKilledWhenItsTimeIsUp) {
  boost::asio::io_context io;
  ManualTime time(io);
  EventLoop loop(io, time);
  FakeJobRunner runner(io, time);
  const std::string hangs = xrun::testing::host_helper(), fine = xrun::testing::helper("aarch64", "static");
  runner.hanging = {hangs};
  auto tests =
      discover_tests(gtest_binaries({fine, hangs}), loop, runner, ListingCache::disabled(), 300, nullptr, {}, nullptr);
  ASSERT_FALSE(tests);
  EXPECT_EQ(tests.error().message, "listing the tests took longer than 300 s (" + hangs + ")");
  EXPECT_EQ(time.now() - TimeSource::Clock::time_point{}, std::chrono::seconds(300)) << "given up at its time";
  ASSERT_EQ(runner.signals.size(), 1u);
  EXPECT_EQ(runner.signals[0].second, SIGKILL);
  EXPECT_EQ(runner.running(), 0u) << "nothing may still run after discover_tests returned";
}

// Listings that end in time are not cut short by the timeout (nor made to
// wait for it): both finish at the fake's pace, long before it.
TEST(Discovery, ListingsThatEndInTimeAreNotGivenUp) {
  boost::asio::io_context io;
  ManualTime time(io);
  EventLoop loop(io, time);
  FakeJobRunner runner(io, time);
  const std::string one = xrun::testing::host_helper(), two = xrun::testing::helper("aarch64", "static");
  auto tests =
      discover_tests(gtest_binaries({one, two}), loop, runner, ListingCache::disabled(), 300, nullptr, {}, nullptr);
  ASSERT_TRUE(tests) << tests.error().message;
  EXPECT_TRUE(runner.signals.empty());
  EXPECT_LT(time.now() - TimeSource::Clock::time_point{}, std::chrono::seconds(1));
}

// A binary that cannot be listed stops discovery; the listings already
// started are stopped too, not left running.
TEST(Discovery, ALaterFailureStopsTheListingsAlreadyRunning) {
  boost::asio::io_context io;
  ManualTime time(io);
  EventLoop loop(io, time);
  FakeJobRunner runner(io, time);
  const std::string hangs = xrun::testing::host_helper(), broken = xrun::testing::helper("aarch64", "static");
  runner.hanging = {hangs};
  runner.unstartable = {broken};
  auto tests = discover_tests(gtest_binaries({hangs, broken}), loop, runner, ListingCache::disabled(), 300, nullptr, {},
                              nullptr);
  ASSERT_FALSE(tests);
  EXPECT_NE(tests.error().message.find("cannot list the tests of"), std::string::npos) << tests.error().message;
  ASSERT_EQ(runner.signals.size(), 1u);
  EXPECT_EQ(runner.running(), 0u);
}

// A Ctrl-C before the scheduler's loop runs is seen between binaries: no
// further listing starts (and no further cached one is read), and the
// listings already running are stopped. Before, a hundred cached listings
// were read first (0.9 s of a run of 100,000 tests).
TEST(Discovery, AStopRequestEndsDiscoveryBeforeTheNextBinary) {
  boost::asio::io_context io;
  ManualTime time(io);
  EventLoop loop(io, time);
  FakeJobRunner runner(io, time);
  const std::string hangs = xrun::testing::host_helper(), fine = xrun::testing::helper("aarch64", "static");
  runner.hanging = {hangs};
  int asked = 0;
  auto tests = discover_tests(
      gtest_binaries({hangs, fine, fine}), loop, runner, ListingCache::disabled(), 300, nullptr,
      [&] { return ++asked == 2; }, nullptr);
  ASSERT_FALSE(tests);
  EXPECT_EQ(tests.error().code, ExitCode::Interrupted);
  EXPECT_EQ(asked, 2) << "asked before each binary, and the second was not started";
  ASSERT_EQ(runner.signals.size(), 1u) << "the first binary's listing is stopped";
  EXPECT_EQ(runner.running(), 0u);
}

}  // namespace

namespace {

// Listing is a phase of the run's one loop: the listings' ends and then the
// tests' are handled by the same EventLoop, which discovery is given and the
// scheduler handed next (as runner/test_command.cpp does); neither runs the
// io_context on its own.
TEST(Discovery, ListingAndRunningArePhasesOfOneLoop) {
  boost::asio::io_context io;
  ManualTime time(io);
  EventLoop loop(io, time);
  FakeJobRunner runner(io, time);
  const std::string one = xrun::testing::host_helper(), two = xrun::testing::helper("aarch64", "static");
  auto listed = discover_tests(gtest_binaries({one, two}), loop, runner, ListingCache::disabled());
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(runner.ended_on.size(), 2u);  // the two listings
  std::vector<TestCase> tests(2);
  for (std::size_t i = 0; i < tests.size(); ++i) {
    tests[i].binary = i == 0 ? one : two;
    tests[i].name = "Suite.test" + std::to_string(i);
    tests[i].kind = TestKind::GTest;
  }
  Reporter quiet;
  SchedulerOptions options;
  options.loop = &loop;
  Scheduler scheduler(io, runner, quiet, options);
  const auto results = scheduler.run(tests);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, Status::Passed);
  ASSERT_EQ(runner.ended_on.size(), 4u);  // and the two tests
  for (const EventLoop* ran : runner.ended_on) EXPECT_EQ(ran, &loop);
}

// Discovery reads each binary once and hands its probe over: the routing
// runner that shares `probes` reads nothing more (tests/e2e/read_once_test.cpp
// counts the opens of a whole run).
TEST(Discovery, EachBinarysProbeComesFromItsOneRead) {
  boost::asio::io_context io;
  ManualTime time(io);
  EventLoop loop(io, time);
  FakeJobRunner runner(io, time);
  const std::string program = xrun::testing::helper("aarch64", "static");
  std::vector<BinarySpec> plain(1);
  plain[0].path = program;
  plain[0].kind = TestKind::Plain;
  ProgramProbes probes;
  auto tests = discover_tests(plain, loop, runner, ListingCache::disabled(), 300, nullptr, {}, &probes);
  ASSERT_TRUE(tests) << tests.error().message;
  const BinaryInfo* probed = probes.find(program);
  ASSERT_NE(probed, nullptr) << "discovery handed its probe over";
  EXPECT_EQ(probed->format, BinaryFormat::Elf);
  ASSERT_TRUE(probed->elf);
  EXPECT_EQ(probed->architecture(), "aarch64");
}

// The key discovery computes from the bytes it holds is the key of the file.
TEST(ListingCache, TheKeyFromTheBytesIsTheKeyOfTheFile) {
  xrun::testing::TempDir dir;
  ListingCache cache(dir.path() + "/cache");
  const std::string binary = XRUN_GTEST_SAMPLE;
  const std::string bytes = read_file(binary).value();
  const auto tests = parse_gtest_list(binary, "A.\n  one\n");
  cache.store_at(cache.key(ListingCache::content_of(bytes), TestKind::GTest), tests);
  auto loaded = cache.load(binary, TestKind::GTest);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->tests.size(), 1u);
  EXPECT_EQ(ListingCache::disabled().key(ListingCache::content_of(bytes), TestKind::GTest), "");
}

}  // namespace
