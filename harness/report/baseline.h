// Comparing a run with an earlier one (`--baseline PREV.json`): what broke,
// what was fixed, what is new or gone, and what got slower.
//
// Tests are matched by their binary's file name and their test name, not by
// the binary's path: a baseline comes from another checkout or CI machine,
// and Cargo names test binaries with a hash of the build
// ("parser-3f2a9c1b0d4e5f60") that changes with every toolchain or
// dependency update, so the hash is dropped too.
#pragma once

#include <string>

#include "report/report.h"

namespace xrun {

struct SlowdownRule {
  double share = 0.5;          // slower when it grew by more than this share of the baseline's duration...
  double floor_seconds = 0.1;  // ...and by more than this many seconds (short tests are noisy)
};

// A failing test for a comparison: failed, crashed, timed out, or an infra
// error (a test that could not run is as much a regression as one that fails).
bool fails_for_comparison(Status status);

// "parser" for "/build/target/debug/deps/parser-3f2a9c1b0d4e5f60".
std::string comparable_binary_name(const std::string& binary);

BaselineComparison compare_with_baseline(const std::vector<TestResult>& now, const RunReport& baseline,
                                         const std::string& source, SlowdownRule rule);

// Reads PREV.json for --baseline: a clear error when it is not a report.
Expected<RunReport> read_baseline(const std::string& path);

}  // namespace xrun
