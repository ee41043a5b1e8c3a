// Test binaries from build systems: `xrun test --cargo` and `--ctest`.
//
// cargo: `cargo test --no-run --message-format=json` builds the tests and
// names every test executable; each runs as cargo would run it: cwd = its
// package root, CARGO_MANIFEST_DIR and CARGO_PKG_* set. When the build
// fails, the error says which cargo and rustc ran and, when that is why,
// that the target's standard library is missing.
//
// ctest: `ctest --show-only=json-v1` lists CTest's tests with their commands,
// working directories and environment. It runs against a scratch directory
// that includes the build directory (CTest writes Testing/Temporary/ into
// the directory it runs in, and the user's LastTest.log and cost data stay
// untouched). A command that starts with xrun itself (CMake's
// CMAKE_CROSSCOMPILING_EMULATOR) loses that prefix, read with xrun's own
// grammar (launch/run_options.h): the engine is xrun, and a `--backend` in
// it says where the test runs. A test whose command runs a whole GoogleTest,
// libtest, Catch2 or doctest binary (no arguments, no pass/fail rewriting
// properties) becomes the binary's cases, each with the test's cwd and
// environment, unless CTest's own granularity is asked for. A test that
// runs one case (gtest_discover_tests, catch_discover_tests,
// doctest_discover_tests) is already a case: it stays one test, judged by
// its exit status, named as CTest names it.
#pragma once

#include <string>
#include <vector>

#include "core/expected.h"
#include "engine/discovery.h"

namespace xrun {

Expected<std::vector<BinarySpec>> cargo_test_binaries(const std::vector<std::string>& cargo_args);
// From `cargo ... --message-format=json` output (exposed for unit tests).
Expected<std::vector<BinarySpec>> parse_cargo_messages(std::string_view json_lines);
// Why `cargo test --no-run` failed, as far as xrun can tell: which cargo and
// rustc, and the target's missing standard library (exposed for unit tests).
std::string explain_cargo_failure(const std::vector<std::string>& cargo_args);

enum class CTestGranularity {
  Case,  // a test that runs a whole GoogleTest, libtest, Catch2 or doctest binary becomes its cases
  Test,  // one result per CTest test, as ctest reports them
};

Expected<std::vector<BinarySpec>> ctest_tests(const std::string& build_dir, CTestGranularity granularity);
// From `ctest --show-only=json-v1` output (exposed for unit tests).
Expected<std::vector<BinarySpec>> parse_ctest_json(std::string_view json_text, const std::string& build_dir,
                                                   CTestGranularity granularity = CTestGranularity::Test);

}  // namespace xrun
