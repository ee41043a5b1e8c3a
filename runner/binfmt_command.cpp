// xrun binfmt install|uninstall|status [--arch A ...]
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "binfmt/binfmt.h"
#include "core/cli_parse.h"
#include "xrun_main.h"

namespace xrun {

int binfmt_command(const std::vector<std::string>& args) {
  CLI::App app("register xrun with the kernel for foreign ELF files (binfmt_misc)", "xrun binfmt");
  app.require_subcommand(1);
  std::vector<std::string> arches;
  auto* install = app.add_subcommand("install", "register xrun for the targets this machine cannot run itself");
  auto* uninstall = app.add_subcommand("uninstall", "remove xrun's registrations (and only those)");
  auto* status = app.add_subcommand("status", "what is registered, by xrun or by others, and what conflicts");
  for (auto* sub : {install, uninstall, status})
    sub->add_option("--arch", arches, "only this target (name or triple); repeatable");
  if (auto stop = parse_subcommand(app, "binfmt", args)) return *stop;

  auto registrations = binfmt_registrations(TargetTable::builtin(), arches);
  if (!registrations) {
    print_error(registrations.error().message);
    return to_int(registrations.error().code);
  }
  if (status->parsed()) {
    auto text = binfmt_status(*registrations);
    if (!text) {
      print_error(text.error().message);
      return to_int(text.error().code);
    }
    std::fputs(text->c_str(), stdout);
    return 0;
  }
  Expected<std::vector<std::string>> done = std::vector<std::string>{};
  if (install->parsed()) {
    char self[PATH_MAX];
    if (::realpath("/proc/self/exe", self) == nullptr) {
      print_error("cannot find xrun's own path");
      return to_int(ExitCode::InfraError);
    }
    done = binfmt_install(*registrations, self);
  } else {
    done = binfmt_uninstall(*registrations);
  }
  if (!done) {
    print_error(done.error().message);
    return to_int(done.error().code);
  }
  for (const auto& line : *done) std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace xrun
