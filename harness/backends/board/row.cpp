// The board backend: real boards over SSH, each running xrun's agent (sent
// once by content hash), as machines of the machine pool (board.h).
// docs/boards.md.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "backends/backend.h"
#include "backends/board/board.h"
#include "backends/board/board_command.h"
#include "backends/board/board_settings.h"
#include "config/config.h"
#include "core/diagnostics.h"
#include "core/suggest.h"
#include "doctor/doctor.h"

namespace xrun {

extern const Backend kBoardBackend;

namespace {

constexpr BinaryFormat kFormats[] = {BinaryFormat::Elf};

constexpr BackendCommand kCommands[] = {
    {"board", "board list|check [NAME...]", "the boards of [boards.NAME]: reachable, key, arch, agent", board_command},
};

// Any target: a board's machine is checked against it on first contact.
bool runs(const TargetSpec&, const ElfInfo*) { return true; }

std::unique_ptr<JobRunner> make_runner(boost::asio::io_context& io, const Config& config,
                                       const RunnerOptions& options) {
  return make_board_runner(io, config, *options.warnings, options.fork_server);
}

// [boards.NAME]: a board's table, kept in Config::rows (board_settings.h).
ConfigSlot board_slot(Config& config, const std::string& table, const std::string& file) {
  BoardSettings& board = config.rows.get<BoardTables>().boards[table];
  board.defined_in = file;
  ConfigSlot slot;
  slot.table = &board;
  return slot;
}

std::string board_lacks(const ConfigSlot& slot, const std::string& table) {
  return slot.table_as<BoardSettings>().host.empty()
             ? "board " + quoted(table) + " has no \"host\" (what ssh connects to)"
             : "";
}

constexpr ConfigSection kSections[] = {{"boards", "pi4", board_slot, board_lacks}};

// Every board a target names is defined.
std::vector<std::string> check_config(const Config& config) {
  std::vector<std::string> problems;
  for (const auto& [target, settings] : config.targets)
    for (const auto& board : boards_of(settings))
      if (!configured_boards(config).count(board)) {
        std::vector<std::string> known;
        for (const auto& [name, b] : configured_boards(config)) known.push_back(name);
        problems.push_back("targets." + target + ".boards: no board " + quoted(board) + " is defined ([boards." +
                           board + "])" + did_you_mean(board, known));
      }
  return problems;
}

// [targets.NAME] boards = [...], and the keys of a [boards.NAME].
constexpr ConfigKey kKeys[] = {
    {"targets.*", "boards", ValueType::StringArray, "",
     "backend \"board\": the boards ([boards.NAME]) that run the target's programs; jobs spread over them",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.target_part<TargetBoards>().boards = v.strings;
       return std::string();
     }},
    {"boards.*", "host", ValueType::String, "", "what ssh connects to: a ~/.ssh/config alias, a name or an address",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.text.empty() || v.text[0] == '-') return "must be a host name, not " + quoted(v.text);
       slot.table_as<BoardSettings>().host = v.text;
       return std::string();
     }},
    {"boards.*", "user", ValueType::String, "", "the user to log in as (ssh -l); default: ssh's",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.text.empty() || v.text[0] == '-') return "must be a user name, not " + quoted(v.text);
       slot.table_as<BoardSettings>().user = v.text;
       return std::string();
     }},
    {"boards.*", "port", ValueType::Integer, "", "the SSH port (ssh -p); default: ssh's",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.integer < 1 || v.integer > 65535)
         return "must be a port from 1 to 65535, not " + std::to_string(v.integer);
       slot.table_as<BoardSettings>().port = v.integer;
       return std::string();
     }},
    {"boards.*", "identity", ValueType::String, "", "a private key file (ssh -i), relative to this file",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.table_as<BoardSettings>().identity = resolve_relative(v.text, v.base_dir);
       return std::string();
     }},
    {"boards.*", "ssh_config", ValueType::String, "", "an ssh configuration file (ssh -F), relative to this file",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.table_as<BoardSettings>().ssh_config = resolve_relative(v.text, v.base_dir);
       return std::string();
     }},
    {"boards.*", "arch", ValueType::String, "",
     "the board's `uname -m` (aarch64, armv7l, ...), checked on first contact",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       // Compared with what the board's `uname -m` prints: one word.
       const bool word = !v.text.empty() && std::all_of(v.text.begin(), v.text.end(), [](unsigned char c) {
         return std::isalnum(c) || c == '_' || c == '-';
       });
       if (!word) return "must be a machine name as `uname -m` prints it (aarch64, armv7l), not " + quoted(v.text);
       slot.table_as<BoardSettings>().arch = v.text;
       return std::string();
     }},
    {"boards.*", "host_key", ValueType::String, "",
     "the board's host key fingerprint (\"SHA256:...\", as `xrun board check` prints it); default: known_hosts",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.text.rfind("SHA256:", 0) != 0 || v.text.size() < 20)
         return "must be a fingerprint like \"SHA256:AbC...\" (ssh-keygen -lf), not " + quoted(v.text);
       slot.table_as<BoardSettings>().host_key = v.text;
       return std::string();
     }},
    {"boards.*", "max_jobs", ValueType::Integer, "", "tests at once on the board (default 1)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.integer < 1 || v.integer > 60) return "must be from 1 to 60, not " + std::to_string(v.integer);
       slot.table_as<BoardSettings>().max_jobs = v.integer;
       return std::string();
     }},
    {"boards.*", "tags", ValueType::StringArray, "", "labels for the board (shown by `xrun board list`)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.table_as<BoardSettings>().tags = v.strings;
       return std::string();
     }},
    {"boards.*", "reset", ValueType::String, "",
     "a shell command that power-cycles the board (a smart plug, a relay, a BMC), run when it stops answering",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.table_as<BoardSettings>().reset = v.text;
       return std::string();
     }},
    {"boards.*", "exclusive", ValueType::Boolean, "",
     "serve one xrun run at a time (a lock the board's kernel releases)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.table_as<BoardSettings>().exclusive = v.boolean;
       return std::string();
     }},
    {"boards.*", "lock_timeout", ValueType::Number, "",
     "how long to wait for another run's lock, in seconds (default 600)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.number < 0) return "must not be negative, not " + std::to_string(v.number);
       slot.table_as<BoardSettings>().lock_timeout = v.number;
       return std::string();
     }},
    {"boards.*", "sync_back", ValueType::Boolean, "",
     "copy back to the host what a test wrote on the board under its cwd and the shares (default false)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       slot.table_as<BoardSettings>().sync_back = v.boolean;
       return std::string();
     }},
    {"boards.*", "connect_timeout", ValueType::Number, "", "seconds to connect and start the agent (default 10)",
     [](const ConfigValue& v, const ConfigSlot& slot) {
       if (v.number <= 0 || v.number > 3600)
         return "must be more than 0 and at most 3600, not " + std::to_string(v.number);
       slot.table_as<BoardSettings>().connect_timeout = v.number;
       return std::string();
     }},
};

// The boards of the configuration (for --target, the target's): where
// each is, and which targets name it. Nothing is contacted: `xrun board
// check` does that.
std::string doctor(const DoctorContext& context) {
  std::string out = "BOARDS (--backend board)\n";
  if (configured_boards(context.config).empty())
    return out + "none configured ([boards.NAME] in xrun.toml, docs/boards.md)\n";
  bool any = false;
  for (const auto& [name, board] : configured_boards(context.config)) {
    std::string targets;
    bool asked_about = context.only_target.empty();
    for (const auto& [target, settings] : context.config.targets) {
      if (std::find(boards_of(settings).begin(), boards_of(settings).end(), name) == boards_of(settings).end())
        continue;
      targets += (targets.empty() ? "" : ", ") + target + (settings.backend == &kBoardBackend ? " (configured)" : "");
      asked_about |= target == context.only_target;
    }
    if (!asked_about) continue;
    any = true;
    std::string where = board.host + (board.port ? ":" + std::to_string(*board.port) : "");
    if (board.user) where = *board.user + "@" + where;
    out +=
        fmt::format("{:<8} {}{}, {} job{} at once, for {}\n", name, where, board.arch ? " (" + *board.arch + ")" : "",
                    board.max_jobs, board.max_jobs == 1 ? "" : "s", targets.empty() ? "no target" : targets);
  }
  if (!any) out += "none for " + context.only_target + "\n";
  return out + "(xrun board check [NAME...] connects to them)\n";
}

}  // namespace

constexpr Backend kBoardBackend{
    .name = "board",
    .help = "real boards over SSH ([boards.NAME] in xrun.toml) running xrun's agent",
    .family = BackendFamily::Machine,
    .choosable = true,
    .is_default = false,
    .formats = kFormats,
    .runs = runs,
    .execs_in_place = false,
    .foreign_exec = false,
    .flags = {},
    .commands = kCommands,
    .keys = kKeys,
    .sections = kSections,
    .check_config = check_config,
    .make_runner = make_runner,
    .doctor = doctor,
};

}  // namespace xrun
