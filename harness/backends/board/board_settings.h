// What the configuration says of boards (the board row's keys and its
// [boards.NAME] section, row.cpp). Kept in Config::rows and
// TargetSettings::rows.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace xrun {

// A board reached over SSH ([boards.NAME]). Everything but `host` is
// optional; ssh's own configuration fills in the rest.
struct BoardSettings {
  std::string host;                       // anything ssh accepts: an alias, a name, an address
  std::optional<std::string> user;        // ssh -l
  std::optional<std::int64_t> port;       // ssh -p
  std::optional<std::string> identity;    // ssh -i
  std::optional<std::string> ssh_config;  // ssh -F (relative to the file that names it)
  std::optional<std::string> arch;        // checked against `uname -m` on first contact
  std::optional<std::string> host_key;    // "SHA256:...": the pinned host key; else the user's known_hosts
  std::int64_t max_jobs = 1;
  std::vector<std::string> tags;
  std::optional<std::string> reset;  // a shell command that power-cycles the board
  bool exclusive = false;            // one xrun run at a time on it
  double lock_timeout = 600;         // waiting for another run's lock, seconds
  double connect_timeout = 10;       // ssh's ConnectTimeout, and the agent's start
  bool sync_back = false;            // copy back what a test writes under its cwd and shares
  std::string defined_in;            // the file, for messages
};

// Every [boards.NAME] table, by name.
struct BoardTables {
  std::map<std::string, BoardSettings> boards;
};
// targets.NAME.boards: the boards that run the target's programs.
struct TargetBoards {
  std::vector<std::string> boards;
};

inline const std::map<std::string, BoardSettings>& configured_boards(const Config& config) {
  return config.rows.get<BoardTables>().boards;
}
inline const std::vector<std::string>& boards_of(const TargetSettings& target) {
  return target.rows.get<TargetBoards>().boards;
}

}  // namespace xrun
