#include "engine/build_sources.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/fs_util.h"
#include "core/process_util.h"

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
  std::istringstream lines{std::string(json_lines)};
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    json message;
    try {
      message = json::parse(line);
    } catch (const json::exception&) {
      continue;  // cargo only prints JSON here; skip anything else
    }
    if (message.value("reason", "") != "compiler-artifact") continue;
    if (!message.contains("executable") || !message["executable"].is_string()) continue;
    if (!message.contains("profile") || !message["profile"].value("test", false)) continue;
    const std::string manifest = message.value("manifest_path", "");
    const auto [name, version] = package_name_version(message.value("package_id", ""), manifest);
    BinarySpec spec;
    spec.path = message["executable"].get<std::string>();
    spec.cwd = dirname_of(manifest);
    spec.kind = TestKind::Libtest;
    spec.env = {"CARGO_MANIFEST_DIR=" + spec.cwd, "CARGO_PKG_NAME=" + name, "CARGO_PKG_VERSION=" + version,
                "CARGO_CRATE_NAME=" + message["target"].value("name", name)};
    binaries.push_back(std::move(spec));
  }
  return binaries;
}

Expected<std::vector<BinarySpec>> cargo_test_binaries(const std::vector<std::string>& cargo_args) {
  std::vector<std::string> argv = {get_env("CARGO").value_or("cargo"), "test", "--no-run",
                                   "--message-format=json-render-diagnostics"};
  argv.insert(argv.end(), cargo_args.begin(), cargo_args.end());
  auto result = run_capturing(argv, "", /*show_stderr=*/true);
  if (!result.started) return make_error(ExitCode::InfraError, argv[0] + " not found: install cargo, or set CARGO");
  if (result.status != 0)
    return make_error(ExitCode::TestsFailed, "cargo test --no-run failed (exit status " +
                                                 std::to_string(result.status) + "): the tests did not build");
  return parse_cargo_messages(result.out);
}

Expected<std::vector<BinarySpec>> parse_ctest_json(std::string_view json_text, const std::string& build_dir) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::exception& e) {
    return make_error(ExitCode::InfraError, std::string("cannot read ctest's test list: ") + e.what());
  }
  std::vector<BinarySpec> tests;
  for (const auto& test : document.value("tests", json::array())) {
    std::vector<std::string> command;
    for (const auto& word : test.value("command", json::array())) command.push_back(word.get<std::string>());
    if (command.empty()) continue;
    // Drop CMAKE_CROSSCOMPILING_EMULATOR=xrun and the options before its program.
    if (is_xrun(command[0])) {
      std::size_t i = 1;
      while (i < command.size()) {
        const std::string& word = command[i];
        if (word == "--") {
          ++i;
          break;
        }
        if (word == "--target" || word == "--config") i += 2;
        else if (word.rfind("-", 0) == 0) ++i;
        else break;
      }
      command.erase(command.begin(), command.begin() + static_cast<std::ptrdiff_t>(std::min(i, command.size())));
      if (command.empty()) continue;
    }
    BinarySpec spec;
    spec.path = command[0];
    spec.args.assign(command.begin() + 1, command.end());
    spec.kind = TestKind::Plain;
    spec.name = test.value("name", spec.path);
    spec.cwd = build_dir;
    for (const auto& property : test.value("properties", json::array())) {
      const std::string name = property.value("name", "");
      if (name == "WORKING_DIRECTORY") spec.cwd = property.value("value", build_dir);
      if (name == "DISABLED" && property.value("value", false)) spec.disabled = true;
      if (name == "ENVIRONMENT")
        for (const auto& entry : property.value("value", json::array())) spec.env.push_back(entry.get<std::string>());
    }
    tests.push_back(std::move(spec));
  }
  return tests;
}

Expected<std::vector<BinarySpec>> ctest_tests(const std::string& build_dir) {
  if (!is_directory(build_dir)) return make_error(ExitCode::Usage, build_dir + ": no such build directory");
  auto result = run_capturing({"ctest", "--show-only=json-v1", "--test-dir", build_dir}, "", true);
  if (!result.started) return make_error(ExitCode::InfraError, "ctest not found: install cmake");
  if (result.status != 0)
    return make_error(ExitCode::InfraError, "ctest --show-only failed in " + build_dir + " (exit status " +
                                                std::to_string(result.status) + ")");
  return parse_ctest_json(result.out, build_dir);
}

}  // namespace xrun
