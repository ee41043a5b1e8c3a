#include "xrun_main.h"

#include <fmt/format.h>

#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <map>
#include <system_error>

#include "backends/registry.h"
#include "binfmt/binfmt.h"
#include "core/diagnostics.h"
#include "core/exit_code.h"
#include "core/log.h"
#include "core/suggest.h"

namespace xrun {

namespace {

// The usage text, around what the registry says: its backends'
// subcommands after xrun's own, their switches after --backend, and the list
// of backends.
constexpr const char* kUsageHead = R"(xrun - run cross-compiled programs as if the target machine were here

usage:
  xrun [OPTIONS] [--] PROGRAM [ARGS...]   run one program (what Cargo, CMake and Meson call)
  xrun test [OPTIONS] [BINARY...]          find the tests in binaries, run them concurrently, report
  xrun test --cargo [-- CARGO ARGS]        ... the test binaries `cargo test` builds
  xrun test --ctest BUILD_DIR              ... the tests CTest knows
  xrun report merge A.json B.json ...      merge the reports of --partition shards
  xrun report html A.json... [-o OUT]      the HTML report of a run (or of merged shards)
  xrun binfmt install|uninstall|status [--arch A]   run foreign ELF files through xrun (binfmt_misc)
  xrun setup cargo|cmake|meson --target T [--print] wire a build system to xrun
  xrun doctor [--target T]                 what each target runs with, and what is missing
)";
constexpr const char* kUsageRunOptions = R"(
run options:
  --target T      run as target T (name or triple) instead of probing the ELF file
  --backend B     where a foreign program runs: a backend below (per target in
                  xrun.toml: backend = "..."; default: the one marked so)
)";
constexpr const char* kUsageOptions = R"(  --config FILE   read FILE instead of the nearest xrun.toml (also XRUN_CONFIG)
  -v, --verbose   trace what xrun decides and launches (also XRUN_LOG=debug)
  -h, --help      this text
  --version       xrun's version

backends:
)";
constexpr const char* kUsageTail = R"(
Everything after PROGRAM is passed to it untouched. Options before a
subcommand apply to it (`xrun -v test ...`). To run a program whose name is
a subcommand, write `xrun -- test`. `xrun test --help` lists the test options.

exit status:
  run: the program's own status, or its signal re-raised, when it ran;
  otherwise 2 usage or configuration error, 126 cannot execute (not an ELF
  executable, unknown architecture, missing qemu, sysroot or loader), 127 not found.
  test: 0 all passed, 1 a test failed, crashed or timed out, 2 usage or
  configuration error, 3 infrastructure error only, 130 interrupted.
)";

std::string usage() {
  std::string commands, flags, list;
  for (const Backend* row : backends()) {
    for (const auto& command : row->commands)
      commands += fmt::format("  xrun {:<35} {}\n", command.usage, command.help);
    for (const auto& flag : row->flags) flags += fmt::format("  {:<15} {}\n", flag.name, flag.help);
    list += fmt::format("  {:<11} {}{}\n", row->name, row->is_default ? "(default) " : "", row->help);
  }
  return kUsageHead + commands + kUsageRunOptions + flags + kUsageOptions + list + kUsageTail;
}

using Subcommand = int (*)(const std::vector<std::string>&);

// xrun's own subcommands, then the rows'.
std::map<std::string, Subcommand, std::less<>> subcommands() {
  std::map<std::string, Subcommand, std::less<>> all = {
      {"doctor", doctor_command}, {"test", test_command},   {"report", report_command},
      {"binfmt", binfmt_command}, {"setup", setup_command},
  };
  for (const Backend* row : backends())
    for (const auto& command : row->commands) all.emplace(command.name, command.run);
  return all;
}

}  // namespace

namespace {

// The system refused what xrun needs to run at all (descriptors for its
// event loop, memory): the environment's fault, neither the program's nor a
// bug, so an infra error that says what to change.
int refused_by_the_system(std::string message, int error) {
  if (error == EMFILE || error == ENFILE) message += " (raise the limit of open files, e.g. `ulimit -n 4096`)";
  print_error(message);
  return to_int(ExitCode::InfraError);
}

}  // namespace

int xrun_main(int argc, char** argv) {
  try {
    // Started by the kernel for a foreign ELF file (xrun binfmt install):
    // nothing here is xrun's to parse, run the program exactly as asked.
    if (auto binfmt = binfmt_invocation(argc, argv)) {
      RunRequest request;
      request.program = binfmt->program;
      request.argv0 = binfmt->argv0;
      request.args = std::move(binfmt->args);
      return run_program(request, RunOptions{});
    }
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
      print_error("no program to run");
      std::fputs(usage().c_str(), stderr);
      return to_int(ExitCode::Usage);
    }
    const std::string& first = args[0];
    if (first == "-h" || first == "--help" || first == "help") {
      std::fputs(usage().c_str(), stdout);
      return 0;
    }
    if (first == "--version") {
      std::printf("xrun %s\n", XRUN_VERSION);
      return 0;
    }
    // xrun's own options may come first (`xrun -v test ...`): the same
    // grammar as before PROGRAM; a subcommand after them gets them too.
    auto line = parse_run_line(args);
    if (!line) {
      print_error(line.error().message);
      return to_int(line.error().code);
    }
    if (!line->after_dashes && line->program < args.size()) {
      static const auto kSubcommands = subcommands();
      if (auto it = kSubcommands.find(args[line->program]); it != kSubcommands.end()) {
        // -v is everyone's; the other options go to the subcommand, which
        // says so if it has no use for one.
        if (line->options.verbose) request_verbose_logging();
        std::vector<std::string> sub_args;
        for (const auto& word : line->option_words)
          if (word != "-v" && word != "--verbose") sub_args.push_back(word);
        sub_args.insert(sub_args.end(), args.begin() + static_cast<std::ptrdiff_t>(line->program) + 1, args.end());
        return it->second(sub_args);
      }
    }
    return run_command(args);
  } catch (const std::system_error& e) {
    return refused_by_the_system(e.what(), e.code().value());
  } catch (const boost::system::system_error& e) {  // asio's (not a std::system_error)
    return refused_by_the_system(e.what(), e.code().value());
  } catch (const std::exception& e) {
    // Everything below reports through Expected; reaching here is a bug, but
    // it still ends in a message and an exit status, never a stack trace.
    print_error(std::string("internal error: ") + e.what());
    return to_int(ExitCode::CannotExecute);
  }
}

}  // namespace xrun
