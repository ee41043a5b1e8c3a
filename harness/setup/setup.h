// `xrun setup cargo|cmake|meson`: wire a project's build system to xrun.
// Each writes (or with --print, shows) what the build system needs: Cargo's
// runner and linker, a CMake toolchain file with CMAKE_CROSSCOMPILING_EMULATOR,
// a Meson cross file with exe_wrapper.
#pragma once

#include <string>
#include <vector>

#include "core/expected.h"
#include "target/target_table.h"

namespace xrun {

struct SetupTarget {
  const TargetSpec* spec = nullptr;
  std::string rust_triple;  // aarch64-unknown-linux-gnu
  std::string gnu_triple;   // aarch64-linux-gnu
};

// Accepts a Rust triple, a GNU triple or a target name.
Expected<SetupTarget> resolve_setup_target(const TargetTable& table, const std::string& name);

// The [target.<triple>] lines for .cargo/config.toml. `linker` empty: none.
std::string cargo_snippet(const SetupTarget& target, const std::string& runner, const std::string& linker);

// Adds runner (and linker, when given and missing) to an existing
// .cargo/config.toml text, keeping everything else -- comments included --
// as it was. `changes` says what was done, one line each.
Expected<std::string> edit_cargo_config(const std::string& text, const std::string& source_name,
                                        const SetupTarget& target, const std::string& runner, const std::string& linker,
                                        std::vector<std::string>& changes);

std::string cmake_toolchain(const SetupTarget& target, const std::string& xrun);
std::string meson_cross_file(const SetupTarget& target, const std::string& xrun);

// "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER"
std::string cargo_runner_variable(const std::string& rust_triple);

}  // namespace xrun
