// The seven-test libtest crate (tests/fixtures/rust_statuses), cross-built
// for aarch64 by Debian's cargo and run with `xrun test --cargo`: the
// statuses it has natively, which every backend and isolation mode must give,
// with and without fork servers.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "e2e/xrun_runner.h"
#include "support/report_json.h"
#include "support/temp_dir.h"

namespace xrun::testing {

// name -> status, with the signal of a crash ("crashed 6").
inline const std::map<std::string, std::string> kRustNativeStatuses = {
    {"tests::a_passes", "passed"},    {"tests::b_fails", "failed"},  {"tests::c_passes", "passed"},
    {"tests::d_aborts", "crashed 6"}, {"tests::e_passes", "passed"}, {"tests::f_sees_its_own_name", "passed"},
    {"tests::g_ignored", "skipped"}};

inline std::map<std::string, std::string> rust_statuses_of(const nlohmann::json& report) {
  std::map<std::string, std::string> out;
  for (const auto& t : report["tests"]) {
    std::string status = t["status"].get<std::string>();
    if (status == "crashed") status += " " + t["signal"].dump();
    out[t["name"].get<std::string>()] = status;
  }
  return out;
}

// A copy of the crate in `dir`/crate, and the environment cargo needs.
struct RustStatusesCrate {
  explicit RustStatusesCrate(const TempDir& dir) : crate(dir.path() + "/crate") {
    std::filesystem::copy(std::string(XRUN_SOURCE_DIR) + "/tests/fixtures/rust_statuses", crate,
                          std::filesystem::copy_options::recursive);
    env = environment_with({"CARGO=/usr/bin/cargo", "RUSTC=/usr/bin/rustc", "CARGO_HOME=" + dir.path() + "/home",
                            "CARGO_TARGET_DIR=" + dir.path() + "/target",
                            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc", "RUSTUP_TOOLCHAIN"});
  }
  struct Run {
    RunResult result;
    std::map<std::string, std::string> statuses;
    double seconds = 0;
  };
  // `xrun test --cargo OPTIONS -- --offline --target aarch64-unknown-linux-gnu`
  // (the listing is made afresh: --no-cache).
  Run test(std::vector<std::string> options, const std::string& json_path) const {
    std::vector<std::string> args = {"-v", "test", "--cargo", "--no-cache", "--json", json_path};
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {"--", "--offline", "--target", "aarch64-unknown-linux-gnu"});
    const auto start = std::chrono::steady_clock::now();
    Run run{run_xrun(args, {.cwd = crate, .env = env, .timeout_seconds = 600}), {}, 0};
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (std::filesystem::exists(json_path)) run.statuses = rust_statuses_of(read_json(json_path));
    return run;
  }
  std::string crate;
  std::vector<std::string> env;
};

}  // namespace xrun::testing
