// Test binaries from build systems: `xrun test --cargo` and `--ctest`.
//
// cargo: `cargo test --no-run --message-format=json` builds the tests and
// names every test executable; each runs as cargo would run it: cwd = its
// package root, CARGO_MANIFEST_DIR and CARGO_PKG_* set.
//
// ctest: `ctest --show-only=json-v1` lists CTest's tests with their commands,
// working directories and environment; each runs as one plain test (its exit
// status decides). A command that starts with xrun itself (CMake's
// CMAKE_CROSSCOMPILING_EMULATOR) has that prefix removed: the engine is xrun.
#pragma once

#include <string>
#include <vector>

#include "core/expected.h"
#include "engine/discovery.h"

namespace xrun {

Expected<std::vector<BinarySpec>> cargo_test_binaries(const std::vector<std::string>& cargo_args);
// From `cargo ... --message-format=json` output (exposed for unit tests).
Expected<std::vector<BinarySpec>> parse_cargo_messages(std::string_view json_lines);

Expected<std::vector<BinarySpec>> ctest_tests(const std::string& build_dir);
// From `ctest --show-only=json-v1` output (exposed for unit tests).
Expected<std::vector<BinarySpec>> parse_ctest_json(std::string_view json_text, const std::string& build_dir);

}  // namespace xrun
