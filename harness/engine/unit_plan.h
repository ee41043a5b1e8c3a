// Which processes `xrun test` starts for its tests, decided before any
// starts: the units (a test, or a shard of one binary's tests in one
// process) and what each asks its runner for. No I/O, no state: the
// scheduler (scheduler.h) runs the units; tests/unit/unit_plan_test.cpp
// holds the tables of cases.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "engine/job_runner.h"
#include "engine/test_model.h"

namespace xrun {

enum class Isolation { Batch, Process };

// Tests that must not run more than `max_jobs` at once (xrun.toml's
// [groups.NAME]): a test is in the first group whose binaries (globs on the
// binary's file name) and filter (globs on the test name) it matches; an
// empty list matches all. In batch mode a group's tests are sharded apart
// from the rest, into at most `max_jobs` shards.
struct TestGroupRule {
  std::string name;
  std::vector<std::string> filter;
  std::vector<std::string> binaries;
  int max_jobs = 1;
};

// The group a test belongs to (an index into `groups`), if any.
std::optional<std::size_t> group_of(const TestCase& test, const std::vector<TestGroupRule>& groups);

// Upper bound on the test names one batch process gets on its command line,
// far below ARG_MAX and what qemu-user copies onto the guest stack.
inline constexpr std::size_t kMaxShardNameBytes = 32 * 1024;

// Tests of one binary run by one process: one test in process mode, on
// retries, and for plain programs; a shard in batch mode.
struct TestUnit {
  std::vector<std::size_t> tests;    // indexes into the plan, in its order
  std::optional<std::size_t> group;  // every test of a unit is in the same group, or none
  friend bool operator==(const TestUnit&, const TestUnit&) = default;
};

struct UnitPlan {
  std::vector<std::optional<std::size_t>> group_of_test;  // by plan index, skipped tests too
  std::vector<TestUnit> units;                            // in the order they are to start
};

// The units of a run: every test without a skip reason in exactly one.
//   - Process isolation, and plain programs: a unit per test, in plan order.
//   - Batch: a binary's tests that run alike (same binary, cwd, environment
//     and group) are spread round-robin over as many shards as there are
//     job slots (no more than their group's max_jobs, no more than tests),
//     and more when their names would pass kMaxShardNameBytes.
//   Units of one test come first, in plan order; then the shards, a
//   binary's together, binaries in the order of their first test.
UnitPlan plan_units(const std::vector<TestCase>& tests, Isolation isolation, int jobs,
                    const std::vector<TestGroupRule>& groups);

// What the runner is asked to run for `unit` (its tests run alike: the first
// one's binary, cwd and environment are all of theirs).
//   - A harness gets its tests' names as its filter; a plain program its own
//     arguments.
//   - A private TMPDIR, with `private_tmpdirs`, unless the test sets TMPDIR.
//   - A fork server (JobRequest::fork_server) for a harness test alone in
//     its process in process isolation, whose name fits the room the server
//     is started with.
//   - The deadline: the timeout and the grace after it.
struct UnitRequestOptions {
  Isolation isolation = Isolation::Batch;
  bool private_tmpdirs = true;
  std::optional<double> timeout_seconds;
  double grace_seconds = 2;
};
JobRequest unit_request(const std::vector<TestCase>& tests, const TestUnit& unit, const UnitRequestOptions& options);

}  // namespace xrun
