// xrun board list|check [NAME...]: the boards of the configuration, and
// whether each can run tests now (reachable, host key, arch, agent, free
// space, clock, C library, where files go). Exits 3 when a board checked
// cannot be used.
#include "backends/board/board_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "backends/board/board_link.h"
#include "backends/board/board_settings.h"
#include "config/config.h"
#include "core/cli_parse.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "core/suggest.h"

namespace xrun {

namespace {

std::string where(const BoardSettings& b) {
  return (b.user ? *b.user + "@" : "") + b.host + (b.port ? ":" + std::to_string(*b.port) : "");
}

// One board's check; prints as it goes. False when it cannot run tests.
bool check_board(const std::string& name, const BoardSettings& settings, const std::string& work_dir) {
  std::printf("%s  %s\n", name.c_str(), where(settings).c_str());
  std::fflush(stdout);
  const auto row = [](const char* what, const std::string& text) { std::printf("  %-9s %s\n", what, text.c_str()); };
  const auto started = std::chrono::steady_clock::now();
  BoardLink link(name, settings, work_dir);
  if (auto connected = link.connect(); !connected) {
    row("reachable", "no");
    print_error(connected.error().message);
    return false;
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  char took[64];
  std::snprintf(took, sizeof took, "yes (connected in %.0f ms)", ms);
  row("reachable", took);
  row("host key", settings.host_key ? *settings.host_key + " (pinned, checked)" : "in known_hosts (ssh checked it)");
  auto facts = link.probe();
  if (!facts) {
    print_error(facts.error().message);
    return false;
  }
  const std::string arch = agent_arch_for(facts->machine);
  row("arch", facts->machine + (arch.empty() ? " (xrun has no agent for it)" : " (runs " + arch + " programs)"));
  if (arch.empty()) return false;
  auto command = link.install_agent(*facts);
  if (!command) {
    print_error(command.error().message);
    return false;
  }
  // Its --version alone would pass any program that exits 0: it must
  // answer a HELLO as a run's agent does.
  auto agent = link.check_agent(*facts, *command, 20);
  if (!agent) {
    row("agent", link.agent_file + " (not usable) in " + facts->agent_dir);
    print_error(agent.error().message);
    return false;
  }
  row("agent", link.agent_file + " (" + *agent + ", answers HELLO) in " + facts->agent_dir);
  row("free", facts->free_kb ? std::to_string(*facts->free_kb / 1024) + " MiB in " + facts->agent_dir : "unknown");
  if (facts->clock) {
    const long long offset = *facts->clock - static_cast<long long>(std::time(nullptr));
    row("clock", (offset >= 0 ? "+" : "") + std::to_string(offset) + " s from this machine's" +
                     (offset > 5 || offset < -5 ? " (set its clock: build tools compare file times)" : ""));
  }
  row("libc", facts->libc.empty() ? "not glibc (or not found)" : "glibc " + facts->libc);
  // Where a run from here puts its files: the same paths, or under the agent's directory.
  const std::string cwd = current_directory();
  const CommandResult mirror =
      link.run(shell_command({"sh", "-c", "mkdir -p \"$1\" 2>/dev/null && [ -w \"$1\" ] && echo same || echo prefix",
                              "xrun", cwd}),
               "", 20);
  row("files", mirror.out.rfind("same", 0) == 0
                   ? "mirrored at the same paths (" + cwd + " is writable there)"
                   : "mirrored under " + facts->agent_dir + "/mirror (the board's user cannot create " + cwd +
                         "): absolute paths compiled into tests will not be found");
  return true;
}

}  // namespace

int board_command(const std::vector<std::string>& args) {
  CLI::App app("the boards of the configuration ([boards.NAME]), and whether each can run tests", "xrun board");
  std::string config_file;
  bool verbose = false;
  app.add_option("--config", config_file, "configuration file instead of the nearest xrun.toml");
  app.add_flag("-v,--verbose", verbose, "debug trace");
  app.require_subcommand(1);
  auto* list = app.add_subcommand("list", "the configured boards");
  std::vector<std::string> names;
  auto* check = app.add_subcommand("check", "connect to each board (or those named) and say what it is");
  check->add_option("NAME", names, "boards to check (default: all)");
  if (auto stop = parse_subcommand(app, "board", args)) return *stop;
  init_logging(verbose);
  auto config = load_config(
      config_inputs_from_process(config_file.empty() ? std::nullopt : std::optional<std::string>(config_file)));
  if (!config) {
    print_error(config.error().message);
    return to_int(config.error().code);
  }
  if (configured_boards(*config).empty()) {
    print_error("no boards are configured: add a [boards.NAME] table with host = \"...\" to xrun.toml");
    return to_int(ExitCode::Usage);
  }
  if (list->parsed()) {
    for (const auto& [name, board] : configured_boards(*config)) {
      std::string targets;
      for (const auto& [target, settings] : config->targets)
        if (std::find(boards_of(settings).begin(), boards_of(settings).end(), name) != boards_of(settings).end())
          targets += (targets.empty() ? "" : ",") + target;
      std::string tags;
      for (const auto& t : board.tags) tags += (tags.empty() ? "" : ",") + t;
      std::printf("%-12s %-28s max_jobs=%lld%s%s%s\n", name.c_str(), where(board).c_str(),
                  static_cast<long long>(board.max_jobs), targets.empty() ? "" : ("  targets=" + targets).c_str(),
                  tags.empty() ? "" : ("  tags=" + tags).c_str(), board.exclusive ? "  exclusive" : "");
    }
    return 0;
  }
  std::vector<std::string> known;
  for (const auto& [name, board] : configured_boards(*config)) known.push_back(name);
  if (names.empty()) names = known;
  for (const auto& name : names)
    if (!configured_boards(*config).count(name)) {
      print_error("no board " + xrun::quoted(name) + " in the configuration" + did_you_mean(name, known));
      return to_int(ExitCode::Usage);
    }
  auto work_dir = make_board_work_dir();
  if (!work_dir) {
    print_error(work_dir.error().message);
    return to_int(work_dir.error().code);
  }
  bool all_ok = true;
  for (const auto& name : names) all_ok &= check_board(name, configured_boards(*config).at(name), *work_dir);
  std::error_code ec;
  std::filesystem::remove_all(*work_dir, ec);
  return all_ok ? 0 : to_int(ExitCode::InfraError);
}

}  // namespace xrun
