#include "engine/build_sources.h"

#include <stdlib.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/json_util.h"
#include "core/process_util.h"
#include "launch/run_options.h"
#include "target/target_table.h"

namespace xrun {

using nlohmann::json;

namespace {

std::string dirname_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// package_id is "name version (source)" in older cargo and
// "source#name@version" (or "source/name#version") in newer.
std::pair<std::string, std::string> package_name_version(const std::string& id, const std::string& manifest) {
  if (auto hash = id.find('#'); hash != std::string::npos) {
    std::string rest = id.substr(hash + 1);
    if (auto at = rest.find('@'); at != std::string::npos) return {rest.substr(0, at), rest.substr(at + 1)};
    const std::string dir = dirname_of(manifest);
    return {dir.substr(dir.rfind('/') + 1), rest};
  }
  std::istringstream words(id);
  std::string name, version;
  words >> name >> version;
  return {name, version};
}

bool is_xrun(const std::string& program) {
  const std::string name = program.substr(program.rfind('/') + 1);
  if (name == "xrun") return true;
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  return n > 0 && program == std::string(self, static_cast<std::size_t>(n));
}

}  // namespace

Expected<std::vector<BinarySpec>> parse_cargo_messages(std::string_view json_lines) {
  std::vector<BinarySpec> binaries;
  // The crates' own binaries: an integration test runs them by the path
  // Cargo compiled into it (env!("CARGO_BIN_EXE_<name>")).
  std::vector<std::string> bin_dirs;
  std::istringstream lines{std::string(json_lines)};
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    // Cargo only prints JSON here; a line that is not the message expected
    // (not JSON, another shape, a member of another type) is skipped.
    auto parsed = parse_json(line, ExitCode::InfraError);
    if (!parsed) continue;
    const json& message = *parsed;
    const auto reason = json_value<std::string>(message, "reason", "");
    if (!reason || *reason != "compiler-artifact") continue;
    const json* executable = json_member(message, "executable");
    if (!executable || !executable->is_string()) continue;
    const json* profile = json_member(message, "profile");
    const auto is_test = profile ? json_value<bool>(*profile, "test", false) : Expected<bool>(false);
    if (!is_test) continue;
    if (!*is_test) {
      const std::string dir = dirname_of(executable->get<std::string>());
      if (std::find(bin_dirs.begin(), bin_dirs.end(), dir) == bin_dirs.end()) bin_dirs.push_back(dir);
      continue;
    }
    const auto manifest = json_value<std::string>(message, "manifest_path", "");
    const auto package_id = json_value<std::string>(message, "package_id", "");
    if (!manifest || !package_id) continue;
    const auto [name, version] = package_name_version(*package_id, *manifest);
    const json* target = json_member(message, "target");
    const auto crate = target ? json_value<std::string>(*target, "name", name) : Expected<std::string>(name);
    if (!crate) continue;
    BinarySpec spec;
    spec.path = executable->get<std::string>();
    spec.cwd = dirname_of(*manifest);
    spec.kind = TestKind::Libtest;
    spec.env = {"CARGO_MANIFEST_DIR=" + spec.cwd, "CARGO_PKG_NAME=" + name, "CARGO_PKG_VERSION=" + version,
                "CARGO_CRATE_NAME=" + *crate};
    binaries.push_back(std::move(spec));
  }
  for (auto& spec : binaries) spec.host_dirs = bin_dirs;
  return binaries;
}

namespace {

// The value of `--name V` / `--name=V` among cargo's arguments.
std::optional<std::string> cargo_option(const std::vector<std::string>& args, const std::string& name) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind(name + "=", 0) == 0) return args[i].substr(name.size() + 1);
  }
  return std::nullopt;
}

// "/usr/bin/cargo (cargo 1.65.0)": where a tool is and what it says it is.
std::string describe_tool(const std::string& name) {
  const std::string path = find_program(name).value_or(name);
  std::string version = capture_stdout({path, "--version"}).value_or("version unknown");
  while (!version.empty() && version.back() == '\n') version.pop_back();
  return path + " (" + version + ")";
}

}  // namespace

std::string explain_cargo_failure(const std::vector<std::string>& cargo_args) {
  const std::string cargo = get_env("CARGO").value_or("cargo");
  const std::string rustc = get_env("RUSTC").value_or("rustc");
  std::string text =
      "; it ran " + describe_tool(cargo) + " with " + describe_tool(rustc) + " (set CARGO and RUSTC to choose others)";
  const auto target = cargo_option(cargo_args, "--target").value_or(get_env("CARGO_BUILD_TARGET").value_or(""));
  if (target.empty()) return text;
  std::string sysroot = capture_stdout({find_program(rustc).value_or(rustc), "--print", "sysroot"}).value_or("");
  while (!sysroot.empty() && sysroot.back() == '\n') sysroot.pop_back();
  const std::string std_dir = sysroot + "/lib/rustlib/" + target + "/lib";
  bool has_std = false;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(std_dir, ec))
    has_std |= entry.path().filename().string().rfind("libstd-", 0) == 0;
  if (sysroot.empty() || has_std) return text;
  text += ", which has no standard library for " + target + " (nothing in " + std_dir + "): ";
  // Debian names the architecture as its dpkg name: "arm64" for aarch64,
  // the target's own name where they agree (armhf, riscv64).
  std::string debian_arch;
  if (const TargetSpec* spec = TargetTable::builtin().find(target)) {
    debian_arch = spec->name;
    for (const auto& name : spec->triples)
      if (name.find('-') == std::string::npos) debian_arch = name;
  }
  text += sysroot.find("/.rustup/") != std::string::npos
              ? "run `rustup target add " + target + "`"
              : "install the standard library for " + target + " into this toolchain";
  if (!debian_arch.empty())
    text += ", or use Debian's Rust where the archive has it for " + debian_arch +
            ": sudo apt-get install libstd-rust-dev:" + debian_arch +
            ", then CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc";
  return text;
}

Expected<std::vector<BinarySpec>> cargo_test_binaries(const std::vector<std::string>& cargo_args) {
  std::vector<std::string> argv = {get_env("CARGO").value_or("cargo"), "test", "--no-run",
                                   "--message-format=json-render-diagnostics"};
  argv.insert(argv.end(), cargo_args.begin(), cargo_args.end());
  auto result = run_capturing(argv, "", /*show_stderr=*/true);
  if (!result.started) return make_error(ExitCode::InfraError, argv[0] + " not found: install cargo, or set CARGO");
  if (result.status != 0)
    return make_error(ExitCode::TestsFailed, "cargo test --no-run failed (exit status " +
                                                 std::to_string(result.status) + "): the tests did not build" +
                                                 explain_cargo_failure(cargo_args));
  return parse_cargo_messages(result.out);
}

Expected<std::vector<BinarySpec>> parse_ctest_json(std::string_view json_text, const std::string& build_dir,
                                                   CTestGranularity granularity) {
  auto parsed = parse_json(json_text, ExitCode::InfraError);
  if (!parsed) return make_error(ExitCode::InfraError, "cannot read ctest's test list: " + parsed.error().message);
  const json& document = *parsed;
  std::vector<BinarySpec> tests;
  // A member of another type is what nlohmann's value() and get() would
  // have thrown for (core/json_util.h): the list cannot be read.
  const auto unreadable = [](const Error& error) {
    return make_error(ExitCode::InfraError, "cannot read ctest's test list: " + error.message);
  };
  const auto member_or = [](const json& object, const char* key) -> Expected<json> {
    if (!object.is_object())
      return make_error(ExitCode::InfraError,
                        std::string("[json.exception.type_error.306] cannot use value() with ") + object.type_name());
    const json* member = json_member(object, key);
    return member ? *member : json::array();
  };
  const auto listed = member_or(document, "tests");
  if (!listed) return unreadable(listed.error());
  for (const auto& test : *listed) {
    const auto words = member_or(test, "command");
    if (!words) return unreadable(words.error());
    std::vector<std::string> command;
    for (const auto& word : *words) {
      auto text = json_get<std::string>(word);
      if (!text) return unreadable(text.error());
      command.push_back(std::move(*text));
    }
    if (command.empty()) continue;
    BinarySpec spec;
    // CMAKE_CROSSCOMPILING_EMULATOR=xrun and its options: read as xrun reads them.
    if (is_xrun(command[0])) {
      auto line = parse_run_line({command.begin() + 1, command.end()});
      if (!line) {
        const auto name = json_value<std::string>(test, "name", "");
        if (!name) return unreadable(name.error());
        return make_error(ExitCode::Usage, "CTest test " + xrun::quoted(*name) + ": " + line.error().message);
      }
      spec.backend = line->options.backend;
      command.erase(command.begin(), command.begin() + 1 + static_cast<std::ptrdiff_t>(line->program));
      if (command.empty()) continue;
    }
    spec.path = command[0];
    spec.args.assign(command.begin() + 1, command.end());
    spec.kind = TestKind::Plain;
    const auto name = json_value<std::string>(test, "name", spec.path);
    if (!name) return unreadable(name.error());
    spec.name = *name;
    spec.cwd = build_dir;
    bool rewrites_verdict = false;  // CTest decides pass or fail by more than the exit status
    const auto properties = member_or(test, "properties");
    if (!properties) return unreadable(properties.error());
    for (const auto& property : *properties) {
      const auto property_name = json_value<std::string>(property, "name", "");
      if (!property_name) return unreadable(property_name.error());
      const std::string& key = *property_name;
      if (key == "WORKING_DIRECTORY") {
        const auto cwd = json_value<std::string>(property, "value", build_dir);
        if (!cwd) return unreadable(cwd.error());
        spec.cwd = *cwd;
      }
      if (key == "DISABLED") {
        const auto disabled = json_value<bool>(property, "value", false);
        if (!disabled) return unreadable(disabled.error());
        if (*disabled) spec.disabled = true;
      }
      if (key == "ENVIRONMENT") {
        const auto entries = member_or(property, "value");
        if (!entries) return unreadable(entries.error());
        for (const auto& entry : *entries) {
          auto text = json_get<std::string>(entry);
          if (!text) return unreadable(text.error());
          spec.env.push_back(std::move(*text));
        }
      }
      if (key == "WILL_FAIL" || key == "PASS_REGULAR_EXPRESSION" || key == "FAIL_REGULAR_EXPRESSION" ||
          key == "SKIP_RETURN_CODE" || key == "SKIP_REGULAR_EXPRESSION")
        rewrites_verdict = true;
    }
    // A whole GoogleTest or libtest binary: its cases, with the test's cwd and environment.
    if (granularity == CTestGranularity::Case && spec.args.empty() && !spec.disabled && !rewrites_verdict &&
        is_regular_file(spec.path)) {
      if (auto kind = detect_kind(spec.path); kind && *kind != TestKind::Plain) {
        spec.kind = *kind;
        spec.name.reset();
      }
    }
    tests.push_back(std::move(spec));
  }
  return tests;
}

Expected<std::vector<BinarySpec>> ctest_tests(const std::string& build_dir, CTestGranularity granularity) {
  if (!is_directory(build_dir)) return make_error(ExitCode::Usage, build_dir + ": no such build directory");
  char absolute[PATH_MAX];
  if (::realpath(build_dir.c_str(), absolute) == nullptr)
    return make_error(ExitCode::Usage, build_dir + ": cannot resolve: " + std::strerror(errno));
  // CTest writes Testing/Temporary/LastTest.log into the directory it runs
  // in, even for --show-only: run it in a scratch directory whose only test
  // file includes the user's build directory.
  std::string scratch_template = join_path(get_env("TMPDIR").value_or("/tmp"), "xrun-ctest-XXXXXX");
  if (!::mkdtemp(scratch_template.data()))
    return make_error(ExitCode::InfraError,
                      "cannot create a scratch directory for ctest: " + std::string(std::strerror(errno)));
  ScratchDir scratch{scratch_template};
  std::string quoted_dir;  // a CMake string: backslashes and quotes escaped
  for (char c : std::string(absolute)) {
    if (c == '\\' || c == '"') quoted_dir += '\\';
    quoted_dir += c;
  }
  if (!write_file_atomically(join_path(scratch.path, "CTestTestfile.cmake"), "subdirs(\"" + quoted_dir + "\")\n"))
    return make_error(ExitCode::InfraError, "cannot write into " + scratch.path);
  auto result = run_capturing({"ctest", "--show-only=json-v1", "--test-dir", scratch.path}, "", true);
  if (!result.started) return make_error(ExitCode::InfraError, "ctest not found: install cmake");
  if (result.status != 0)
    return make_error(ExitCode::InfraError, "ctest --show-only failed in " + build_dir + " (exit status " +
                                                std::to_string(result.status) + ")");
  return parse_ctest_json(result.out, absolute, granularity);
}

}  // namespace xrun
