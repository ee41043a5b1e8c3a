// How a test process's end is judged, as tables: each row a unit's state
// and its process's end, what the scheduler is told to do, and a name.
#include "engine/exit_classification.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <sstream>

#include "launch/qemu_faults.h"

namespace xrun {
namespace {

// Each row's test is named after the row.
struct CaseName {
  template <typename Row>
  std::string operator()(const ::testing::TestParamInfo<Row>& row) const {
    return row.param.name;
  }
};

constexpr std::string_view kStopReason = "interrupted";

JobExit exited(int code) { return JobExit{.code = code}; }
JobExit killed(int signal) { return JobExit{.signaled = true, .signal = signal}; }
JobExit infra(JobExit exit, std::string message, bool machine_lost = false) {
  exit.infra_error = std::move(message);
  exit.machine_lost = machine_lost;
  return exit;
}

std::string describe(const ExitBlame& blame) {
  std::ostringstream out;
  out << status_name(blame.status) << " \"" << blame.message << "\"";
  if (blame.signal) out << " signal=" << *blame.signal;
  if (blame.exit_code) out << " exit_code=" << *blame.exit_code;
  return out.str();
}

std::string describe(const ExitVerdict& verdict) {
  std::ostringstream out;
  if (verdict.rerun_each_alone) return "rerun each unreported test alone";
  if (verdict.blamed) {
    const BlamedTest& b = *verdict.blamed;
    out << "blame test " << b.test << (b.was_running ? " (running)" : " (not started)")
        << (b.takes_unowned_output ? " +unowned output" : "") << ": " << describe(b.result)
        << (b.may_run_again_elsewhere ? ", may run again elsewhere" : "") << "; ";
  } else {
    out << "no blame; ";
  }
  switch (verdict.rest) {
    case RestOfUnit::NotRun:
      out << "rest not run";
      break;
    case RestOfUnit::RunAgain:
      out << "rest runs again";
      break;
    case RestOfUnit::HarnessSkipped:
      out << "rest skipped by the harness";
      break;
  }
  return out.str();
}

BlamedTest blame(std::size_t test, bool running, bool unowned, ExitBlame result, bool elsewhere = false) {
  return BlamedTest{test, running, unowned, std::move(result), elsewhere};
}

ExitVerdict verdict(std::optional<BlamedTest> blamed, RestOfUnit rest) {
  return ExitVerdict{.blamed = std::move(blamed), .rest = rest};
}

// ------------------------------------------------------------ classify_exit

struct ClassifyCase {
  std::string name;
  UnitEnd unit;
  JobExit exit;
  ExitVerdict expected;
  std::optional<double> timeout_seconds = 2;
};

void PrintTo(const ClassifyCase& c, std::ostream* out) { *out << c.name; }

const auto kGTest = TestKind::GTest;
const auto kPlain = TestKind::Plain;
const auto kRunAgain = RestOfUnit::RunAgain;
const auto kNotRun = RestOfUnit::NotRun;
const auto kSkipped = RestOfUnit::HarnessSkipped;

const std::vector<ClassifyCase> kClassifyCases = {
    // Exit statuses.
    {"AllReportedAndExitZeroBlamesNobody",
     {.kind = kGTest, .reported = {true, true}},
     exited(0),
     verdict(std::nullopt, kSkipped)},
    {"ExitCodeInsideATestFailsIt",
     {.kind = kGTest, .reported = {true, false, false}, .running = 1},
     exited(3),
     verdict(blame(1, true, false, {Status::Failed, "exit status 3", {}, 3}), kRunAgain)},
    {"ExitCodeBetweenTestsFailsTheNextOne",
     {.kind = kGTest, .reported = {true, false}},
     exited(1),
     verdict(blame(1, false, true, {Status::Failed, "exit status 1", {}, 1}), kRunAgain)},
    // "Tests" that printed no result.
    {"ExitZeroInsideATestFailsIt",
     {.kind = kGTest, .reported = {true, false, false}, .running = 1},
     exited(0),
     verdict(blame(1, true, false,
                   {Status::Failed, "the process exited with status 0 before the test reported a result", {}, 0}),
             kRunAgain)},
    {"ExitZeroWithoutRunningTheRestMakesThemInfraErrors",
     {.kind = kGTest, .reported = {true, false, false}},
     exited(0),
     verdict(std::nullopt, kSkipped)},
    {"ExitZeroBeforeAnyTestStarted",
     {.kind = kGTest, .reported = {false, false}},
     exited(0),
     verdict(std::nullopt, kSkipped)},
    // Signals.
    {"SegfaultInsideATestCrashesIt",
     {.kind = kGTest, .reported = {false}, .running = 0},
     killed(SIGSEGV),
     verdict(blame(0, true, false, {Status::Crashed, "SIGSEGV (signal 11)", SIGSEGV, {}}), kRunAgain)},
    {"AbortInsideATestCrashesIt",
     {.kind = TestKind::Libtest, .reported = {true, false}, .running = 1},
     killed(SIGABRT),
     verdict(blame(1, true, false, {Status::Crashed, "SIGABRT (signal 6)", SIGABRT, {}}), kRunAgain)},
    {"ACrashBeforeTheFirstTestIsTheFirstTestsWithTheStrayOutput",
     {.kind = kGTest, .reported = {false, false}},
     killed(SIGBUS),
     verdict(blame(0, false, true, {Status::Crashed, "SIGBUS (signal 7)", SIGBUS, {}}), kRunAgain)},
    // Timeouts.
    {"ATimeoutBlamesTheTestItFiredIn",
     {.kind = kGTest, .reported = {true, false, false}, .running = 1, .timed_out = true, .timed_out_test = 1},
     killed(SIGTERM),
     verdict(blame(1, true, false, {Status::TimedOut, "timed out after 2 s", SIGTERM, {}}), kRunAgain)},
    {"ATimeoutBetweenTestsBlamesTheNextOne",
     {.kind = kGTest, .reported = {true, false}, .timed_out = true, .timed_out_test = 1},
     killed(SIGKILL),
     verdict(blame(1, false, true, {Status::TimedOut, "timed out after 2 s", SIGKILL, {}}), kRunAgain)},
    {"ATimeoutSaysItsFractionOfASecond",
     {.kind = kGTest, .reported = {false}, .running = 0, .timed_out = true, .timed_out_test = 0},
     killed(SIGTERM),
     verdict(blame(0, true, false, {Status::TimedOut, "timed out after 0.5 s", SIGTERM, {}}), kRunAgain),
     0.5},
    {"ATimeoutSaysItsHundredthsOfASecond",
     {.kind = kGTest, .reported = {false}, .running = 0, .timed_out = true, .timed_out_test = 0},
     killed(SIGTERM),
     verdict(blame(0, true, false, {Status::TimedOut, "timed out after 0.05 s", SIGTERM, {}}), kRunAgain),
     0.05},
    {"ATimeoutAfterEveryTestReportedBlamesNoTest",
     {.kind = kGTest, .reported = {true, true}, .timed_out = true},
     killed(SIGKILL),
     verdict(std::nullopt, kRunAgain)},
    {"ATimeoutWinsOverTheStatusItCausedThoughTheHarnessExitedZero",
     {.kind = kGTest, .reported = {false}, .running = 0, .timed_out = true, .timed_out_test = 0},
     exited(0),
     verdict(blame(0, true, false, {Status::TimedOut, "timed out after 2 s", {}, 0}), kRunAgain)},
    // Plain programs: the process is the test, and all it printed is its own.
    {"APlainProgramsStatusIsItsResult",
     {.kind = kPlain, .reported = {false}, .running = 0},
     exited(4),
     verdict(blame(0, true, true, {Status::Failed, "exit status 4", {}, 4}), kRunAgain)},
    {"APlainProgramThatExitsZeroPasses",
     {.kind = kPlain, .reported = {false}, .running = 0},
     exited(0),
     verdict(blame(0, true, true, {Status::Passed, "", {}, 0}), kSkipped)},
    {"APlainProgramKilledBySignalCrashed",
     {.kind = kPlain, .reported = {false}, .running = 0},
     killed(SIGABRT),
     verdict(blame(0, true, true, {Status::Crashed, "SIGABRT (signal 6)", SIGABRT, {}}), kRunAgain)},
    {"APlainProgramsTimeout",
     {.kind = kPlain, .reported = {false}, .running = 0, .timed_out = true, .timed_out_test = 0},
     killed(SIGKILL),
     verdict(blame(0, true, true, {Status::TimedOut, "timed out after 2 s", SIGKILL, {}}), kRunAgain)},
    // Emulator and machine faults: the runner's infra error, not the test's status.
    {"AnEmulatorFaultIsAnInfraErrorNotACrash",
     {.kind = kGTest, .reported = {true, false}, .running = 1},
     infra(killed(SIGABRT), "the emulator failed: qemu: fatal: x (qemu died of SIGABRT)"),
     verdict(blame(1, true, false,
                   {Status::InfraError, "the emulator failed: qemu: fatal: x (qemu died of SIGABRT)", {}, {}}),
             kRunAgain)},
    {"AnEmulatorFaultBeforeAnyTestIsTheFirstTests",
     {.kind = kGTest, .reported = {false, false}},
     infra(exited(1), "the emulator failed: qemu-aarch64: Could not open '/lib/ld.so' (exit status 1)"),
     verdict(blame(0, false, true,
                   {Status::InfraError,
                    "the emulator failed: qemu-aarch64: Could not open '/lib/ld.so' (exit status 1)",
                    {},
                    {}}),
             kRunAgain)},
    {"AProgramThatCannotStartOnAMachineIsAnInfraError",
     {.kind = kPlain, .reported = {false}, .running = 0},
     infra(exited(127), "no such file"),
     verdict(blame(0, true, true, {Status::InfraError, "no such file", {}, {}}), kRunAgain)},
    {"ALostMachinesTestMayRunAgainElsewhere",
     {.kind = kGTest, .reported = {false}, .running = 0},
     infra(exited(0), "board pi: gone", true),
     verdict(blame(0, true, false, {Status::InfraError, "board pi: gone", {}, {}}, true), kRunAgain)},
    {"ALostMachineWhileTheRunStopsRunsNothingAgain",
     {.kind = kGTest, .reported = {false, false}, .running = 0, .stopping = true},
     infra(exited(0), "board pi: gone", true),
     verdict(blame(0, true, false, {Status::InfraError, "board pi: gone", {}, {}}), kNotRun)},
    {"ADeadVmIsNotALostMachine",
     {.kind = kGTest, .reported = {false}, .running = 0},
     infra(exited(0), "VM 1: qemu died"),
     verdict(blame(0, true, false, {Status::InfraError, "VM 1: qemu died", {}, {}}), kRunAgain)},
    // Stopped by xrun (Ctrl-C, --fail-fast).
    {"ACancelledUnitsRunningTestIsNotFinished",
     {.kind = kGTest, .reported = {true, false, false}, .running = 1, .cancelled = true, .stopping = true},
     killed(SIGTERM),
     verdict(blame(1, true, false, {Status::NotRun, "not finished: interrupted", SIGTERM, {}}), kNotRun)},
    {"ACancelledUnitBeforeItsFirstTest",
     {.kind = kGTest, .reported = {false, false}, .cancelled = true},
     killed(SIGKILL),
     verdict(blame(0, false, true, {Status::NotRun, "not finished: interrupted", SIGKILL, {}}), kNotRun)},
    {"ACancelledUnitsInfraErrorIsXrunsDoing",
     {.kind = kGTest, .reported = {false}, .running = 0, .cancelled = true},
     infra(killed(SIGTERM), "the agent's channel closed"),
     verdict(blame(0, true, false, {Status::NotRun, "not finished: interrupted", {}, {}}), kNotRun)},
    {"ACancelledUnitsOwnCrashIsACrash",
     {.kind = TestKind::Libtest, .reported = {true, false, false}, .running = 1, .cancelled = true, .stopping = true},
     killed(SIGABRT),
     verdict(blame(1, true, false, {Status::Crashed, "SIGABRT (signal 6)", SIGABRT, {}}), kNotRun)},
    {"ACancelledUnitThatTimedOutFirstStaysTimedOut",
     {.kind = kGTest, .reported = {false}, .running = 0, .timed_out = true, .timed_out_test = 0, .cancelled = true},
     killed(SIGKILL),
     verdict(blame(0, true, false, {Status::TimedOut, "timed out after 2 s", SIGKILL, {}}), kNotRun)},
    {"AStoppingRunLeavesTheRestNotRun",
     {.kind = kGTest, .reported = {true, false}, .stopping = true},
     exited(1),
     verdict(blame(1, false, true, {Status::Failed, "exit status 1", {}, 1}), kNotRun)},
    // Lines that cannot be trusted.
    {"AmbiguousLinesInAShardRunEachUnreportedTestAlone",
     {.kind = kGTest, .reported = {true, false, false}, .running = 1, .ambiguous = true},
     exited(1),
     ExitVerdict{.rerun_each_alone = true}},
    {"AmbiguousLinesOfALoneTestLeaveItToItsStatus",
     {.kind = kGTest, .reported = {false}, .running = 0, .ambiguous = true},
     exited(1),
     verdict(blame(0, true, false, {Status::Failed, "exit status 1", {}, 1}), kRunAgain)},
    {"AmbiguousLinesOfALoneTestThatExitsZeroPass",
     {.kind = kGTest, .reported = {false}, .running = 0, .ambiguous = true},
     exited(0),
     verdict(blame(0, true, false, {Status::Passed, "", {}, 0}), kSkipped)},
    {"AmbiguousLinesDoNotMatterAfterATimeout",
     {.kind = kGTest,
      .reported = {true, false},
      .running = 1,
      .timed_out = true,
      .timed_out_test = 1,
      .ambiguous = true},
     killed(SIGTERM),
     verdict(blame(1, true, false, {Status::TimedOut, "timed out after 2 s", SIGTERM, {}}), kRunAgain)},
    {"AmbiguousLinesDoNotMatterAfterAnInfraError",
     {.kind = kGTest, .reported = {true, false}, .running = 1, .ambiguous = true},
     infra(killed(SIGABRT), "the emulator failed"),
     verdict(blame(1, true, false, {Status::InfraError, "the emulator failed", {}, {}}), kRunAgain)},
};

class ClassifyExit : public ::testing::TestWithParam<ClassifyCase> {};

TEST_P(ClassifyExit, Table) {
  const ClassifyCase& c = GetParam();
  const ExitVerdict actual = classify_exit(c.unit, c.exit, c.timeout_seconds, kStopReason);
  EXPECT_EQ(describe(actual), describe(c.expected));
  EXPECT_EQ(actual, c.expected);  // every field, should describe() miss one
}

INSTANTIATE_TEST_SUITE_P(Cases, ClassifyExit, ::testing::ValuesIn(kClassifyCases), CaseName());

// ------------------------------------------------- ended_badly_after_reports

struct EndedBadlyCase {
  std::string name;
  UnitEnd unit;
  JobExit exit;
  bool expected;
};

void PrintTo(const EndedBadlyCase& c, std::ostream* out) { *out << c.name; }

const std::vector<EndedBadlyCase> kEndedBadlyCases = {
    {"PassedAndExitZero", {.kind = kGTest, .reported = {true, true}}, exited(0), false},
    {"ACrashAfterEveryTestPassed", {.kind = kGTest, .reported = {true, true}}, killed(SIGSEGV), true},
    {"LeakSanitizersStatusAfterEveryTestPassed", {.kind = kGTest, .reported = {true}}, exited(23), true},
    {"AFailedTestExplainsGTestsStatus",
     {.kind = kGTest, .reported = {true}, .reported_failure = true},
     exited(1),
     false},
    {"AFailedTestDoesNotExplainASignal",
     {.kind = kGTest, .reported = {true}, .reported_failure = true},
     killed(SIGSEGV),
     true},
    {"LibtestsStatusWithoutAFailedTest", {.kind = TestKind::Libtest, .reported = {true, true}}, exited(101), true},
    {"LibtestsStatusAfterAFailedTest",
     {.kind = TestKind::Libtest, .reported = {true, true}, .reported_failure = true},
     exited(101),
     false},
    {"Catch2sStatusCountsCasesBesidesOurs", {.kind = TestKind::Catch2, .reported = {true}}, exited(2), false},
    {"DoctestsStatusCountsCasesBesidesOurs", {.kind = TestKind::Doctest, .reported = {true}}, exited(1), false},
    {"Catch2StillCrashes", {.kind = TestKind::Catch2, .reported = {true}}, killed(SIGABRT), true},
    {"AHangAfterEveryTestReported",
     {.kind = kGTest, .reported = {true, true}, .timed_out = true},
     killed(SIGKILL),
     true},
    {"APlainProgramHasNoReportsToExplain", {.kind = kPlain, .reported = {true}}, killed(SIGSEGV), false},
    {"ACancelledUnitsEndIsXrunsDoing", {.kind = kGTest, .reported = {true}, .cancelled = true}, killed(SIGTERM), false},
    {"ACancelledUnitsOwnCrashAfterItsReportsIsNot",
     {.kind = kGTest, .reported = {true}, .cancelled = true},
     killed(SIGSEGV),
     true},
    {"AnInfraErrorIsNotTheProgramsEnd", {.kind = kGTest, .reported = {true}}, infra(killed(SIGABRT), "qemu"), false},
    {"ATestStillRunningIsBlamedInstead",
     {.kind = kGTest, .reported = {true, false}, .running = 1},
     killed(SIGSEGV),
     false},
    {"ATestThatNeverRanIsBlamedInstead", {.kind = kGTest, .reported = {true, false}}, killed(SIGSEGV), false},
};

class EndedBadlyAfterReports : public ::testing::TestWithParam<EndedBadlyCase> {};

TEST_P(EndedBadlyAfterReports, Table) {
  const EndedBadlyCase& c = GetParam();
  EXPECT_EQ(ended_badly_after_reports(c.unit, c.exit), c.expected);
}

INSTANTIATE_TEST_SUITE_P(Cases, EndedBadlyAfterReports, ::testing::ValuesIn(kEndedBadlyCases), CaseName());

// ----------------------------------------------------------- blame_the_exit

struct BlameCase {
  std::string name;
  JobExit exit;
  bool timed_out;
  ExitBlame expected;
};

void PrintTo(const BlameCase& c, std::ostream* out) { *out << c.name; }

const std::vector<BlameCase> kBlameCases = {
    {"ACrashAfterTheTestPassed",
     killed(SIGSEGV),
     false,
     {Status::Crashed, "SIGSEGV (signal 11) after the test reported passed", SIGSEGV, {}}},
    {"AStatusAfterTheTestPassed",
     exited(23),
     false,
     {Status::Failed, "exit status 23 after the test reported passed", {}, 23}},
    {"AHangAfterTheTestPassedSaysNoSignal",
     killed(SIGKILL),
     true,
     {Status::TimedOut, "timed out after 2 s, after the test reported passed", {}, {}}},
};

class BlameTheExit : public ::testing::TestWithParam<BlameCase> {};

TEST_P(BlameTheExit, Table) {
  const BlameCase& c = GetParam();
  EXPECT_EQ(describe(blame_the_exit(c.exit, c.timed_out, 2.0, "after the test reported passed")), describe(c.expected));
}

INSTANTIATE_TEST_SUITE_P(Cases, BlameTheExit, ::testing::ValuesIn(kBlameCases), CaseName());

// ------------------------------------------------------------ judge_attempt

struct AttemptCase {
  std::string name;
  Status status;
  int attempts, retries;
  bool failed_before, stopping;
  AttemptVerdict expected;
};

void PrintTo(const AttemptCase& c, std::ostream* out) { *out << c.name; }

const std::vector<AttemptCase> kAttemptCases = {
    {"APassIsFinal", Status::Passed, 1, 2, false, false, {false, Status::Passed, ""}},
    {"AFailureWithoutRetriesIsFinal", Status::Failed, 1, 0, false, false, {false, Status::Failed, ""}},
    {"AFailureWithRetriesLeftRunsAgain", Status::Failed, 1, 2, false, false, {true, Status::Failed, ""}},
    {"ACrashRunsAgain", Status::Crashed, 2, 2, true, false, {true, Status::Crashed, ""}},
    {"ATimeoutRunsAgain", Status::TimedOut, 1, 1, false, false, {true, Status::TimedOut, ""}},
    {"AFailureOnTheLastAttemptIsFinal", Status::Failed, 3, 2, true, false, {false, Status::Failed, ""}},
    {"APassAfterAFailureIsFlaky",
     Status::Passed,
     2,
     2,
     true,
     false,
     {false, Status::Flaky, "passed on attempt 2 of 3"}},
    {"APassOnTheLastAttemptIsFlaky",
     Status::Passed,
     4,
     3,
     true,
     false,
     {false, Status::Flaky, "passed on attempt 4 of 4"}},
    {"AnInfraErrorIsNotRetried", Status::InfraError, 1, 3, false, false, {false, Status::InfraError, ""}},
    {"ASkipIsNotRetried", Status::Skipped, 0, 3, false, false, {false, Status::Skipped, ""}},
    {"NothingRunsAgainOnceTheRunStops", Status::Failed, 1, 3, false, true, {false, Status::Failed, ""}},
    {"NotRunAfterAFailureIsNotFlaky", Status::NotRun, 1, 3, true, true, {false, Status::NotRun, ""}},
};

class JudgeAttempt : public ::testing::TestWithParam<AttemptCase> {};

TEST_P(JudgeAttempt, Table) {
  const AttemptCase& c = GetParam();
  const AttemptVerdict actual = judge_attempt(c.status, c.attempts, c.retries, c.failed_before, c.stopping);
  EXPECT_EQ(actual.run_again, c.expected.run_again);
  EXPECT_EQ(status_name(actual.status), status_name(c.expected.status));
  EXPECT_EQ(actual.message, c.expected.message);
}

INSTANTIATE_TEST_SUITE_P(Cases, JudgeAttempt, ::testing::ValuesIn(kAttemptCases), CaseName());

// ----------------------------------------------------------- emulator_fault

struct EmulatorCase {
  std::string name;
  JobExit exit;
  std::optional<std::string> fault_line;
  std::optional<std::string> expected;
};

void PrintTo(const EmulatorCase& c, std::ostream* out) { *out << c.name; }

const std::vector<EmulatorCase> kEmulatorCases = {
    {"QemusOwnFailureWithAStatus", exited(1), "qemu-aarch64: Could not open '/lib/ld-linux-aarch64.so.1'",
     "the emulator failed: qemu-aarch64: Could not open '/lib/ld-linux-aarch64.so.1' (exit status 1)"},
    {"QemuDyingOfASignal", killed(SIGABRT), "qemu: fatal: bad instruction",
     "the emulator failed: qemu: fatal: bad instruction (qemu died of SIGABRT)"},
    {"AGuestCrashIsTheProgramsOwn", killed(SIGSEGV), std::nullopt, std::nullopt},
    {"AFailureWithoutQemusWordIsTheProgramsOwn", exited(1), std::nullopt, std::nullopt},
    {"AProgramThatEndedWellIsItsOwnWhateverItPrinted", exited(0), "qemu: fatal: printed by the test", std::nullopt},
    {"AnInfraErrorAlreadyJudgedKeepsItsMessage", infra(exited(1), "cannot start"), "qemu: fatal: x", std::nullopt},
};

class EmulatorFault : public ::testing::TestWithParam<EmulatorCase> {};

TEST_P(EmulatorFault, Table) {
  const EmulatorCase& c = GetParam();
  EXPECT_EQ(emulator_fault(c.exit, c.fault_line), c.expected);
}

INSTANTIATE_TEST_SUITE_P(Cases, EmulatorFault, ::testing::ValuesIn(kEmulatorCases), CaseName());

// qemu's own line, found in the output the way the process runner finds it,
// makes the test an infra error; the guest's crash line makes it a crash.
TEST(ExitClassification, FromQemusOutputToTheTestsStatus) {
  const auto judge = [](std::string_view output, JobExit exit) {
    QemuFaultScan scan;
    scan.feed(output);
    if (auto fault = emulator_fault(exit, scan.finish())) exit.infra_error = fault;
    const UnitEnd unit{.kind = kGTest, .reported = {false}, .running = 0};
    const auto verdict = classify_exit(unit, exit, std::nullopt, kStopReason);
    return verdict.blamed ? verdict.blamed->result.status : Status::NotRun;
  };
  EXPECT_EQ(judge("[ RUN      ] A.b\nqemu: fatal: unhandled trap\n", killed(SIGABRT)), Status::InfraError);
  EXPECT_EQ(
      judge("[ RUN      ] A.b\nqemu: uncaught target signal 11 (Segmentation fault) - core dumped\n", killed(SIGSEGV)),
      Status::Crashed);
}

}  // namespace
}  // namespace xrun
