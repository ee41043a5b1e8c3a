// xrun setup cargo|cmake|meson --target TRIPLE [--print] ...
#include <sys/stat.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "core/cli_parse.h"
#include "core/fs_util.h"
#include "report/report.h"
#include "setup/setup.h"
#include "xrun_main.h"

namespace xrun {

namespace {

// "xrun" when the xrun found in PATH is this one, else this one's full path:
// what a build file should call.
std::string xrun_reference() {
  char self[PATH_MAX];
  if (::realpath("/proc/self/exe", self) == nullptr) return "xrun";
  if (auto found = find_program("xrun")) {
    char resolved[PATH_MAX];
    if (::realpath(found->c_str(), resolved) && std::string(resolved) == self) return "xrun";
  }
  return self;
}

int fail(const Error& error) {
  print_error(error.message);
  return to_int(error.code);
}

}  // namespace

int setup_command(const std::vector<std::string>& args) {
  CLI::App app("wire a build system to xrun", "xrun setup");
  app.require_subcommand(1);
  std::string target_name, project = ".", output;
  bool print = false;
  auto* cargo = app.add_subcommand("cargo", "add runner (and linker) to the project's .cargo/config.toml");
  auto* cmake = app.add_subcommand("cmake", "write a CMake toolchain file with xrun as CMAKE_CROSSCOMPILING_EMULATOR");
  auto* meson = app.add_subcommand("meson", "write a Meson cross file with xrun as exe_wrapper");
  for (auto* sub : {cargo, cmake, meson}) {
    sub->add_option("--target", target_name, "Rust triple, GNU triple or target name")->required();
    sub->add_flag("--print", print, "print what would be written instead of writing it");
  }
  cargo->add_option("--project", project, "the project's directory (default: the current one)");
  for (auto* sub : {cmake, meson})
    sub->add_option("-o,--output", output, "file to write (default: <gnu-triple>-xrun.cmake/.ini)");
  if (auto stop = parse_subcommand(app, "setup", args)) return *stop;

  auto target = resolve_setup_target(TargetTable::builtin(), target_name);
  if (!target) return fail(target.error());
  const std::string xrun = xrun_reference();

  if (cargo->parsed()) {
    if (target->rust_triple.empty())
      return fail(make_error(ExitCode::Usage, "no Rust triple is known for " + target->spec->name));
    const std::string gcc = target->gnu_triple + "-gcc";
    const std::string linker = find_program(gcc) ? gcc : "";
    const std::string env_form = "or, with no file: " + cargo_runner_variable(target->rust_triple) + "=" + xrun +
                                 " cargo test --target " + target->rust_triple;
    if (print) {
      std::printf("# .cargo/config.toml\n%s\n# %s\n", cargo_snippet(*target, xrun, linker).c_str(), env_form.c_str());
      if (linker.empty())
        std::printf("# (no linker: %s is not installed; apt-get install %s)\n", gcc.c_str(),
                    target->spec->packages.compiler.c_str());
      return 0;
    }
    const std::string path = join_path(project, ".cargo/config.toml");
    const std::string text = read_file(path).value_or("");
    std::vector<std::string> changes;
    auto edited = edit_cargo_config(text, path, *target, xrun, linker, changes);
    if (!edited) return fail(edited.error());
    if (*edited != text) {
      std::string dir = join_path(project, ".cargo");
      ::mkdir(dir.c_str(), 0755);
      if (auto written = write_file_atomically(path, *edited); !written) return fail(written.error());
    }
    for (const auto& change : changes) std::printf("%s: %s\n", path.c_str(), change.c_str());
    if (linker.empty())
      std::printf("note: no linker set: %s is not installed (apt-get install %s)\n", gcc.c_str(),
                  target->spec->packages.compiler.c_str());
    std::printf("%s\n", env_form.c_str());
    return 0;
  }
  const bool is_cmake = cmake->parsed();
  const std::string content = is_cmake ? cmake_toolchain(*target, xrun) : meson_cross_file(*target, xrun);
  if (print) {
    std::fputs(content.c_str(), stdout);
    return 0;
  }
  if (output.empty()) output = target->gnu_triple + (is_cmake ? "-xrun.cmake" : "-xrun.ini");
  if (auto written = write_file_atomically(output, content); !written) return fail(written.error());
  std::printf("wrote %s\nuse it with: %s\n", output.c_str(),
              is_cmake ? ("cmake -DCMAKE_TOOLCHAIN_FILE=" + output + " ...").c_str()
                       : ("meson setup --cross-file " + output + " BUILD_DIR && meson test -C BUILD_DIR").c_str());
  return 0;
}

}  // namespace xrun
