// `xrun board list|check [NAME...]`: the boards of the configuration, and
// whether each can run tests now; a subcommand of the board row (row.cpp).
#pragma once

#include <string>
#include <vector>

namespace xrun {

int board_command(const std::vector<std::string>& args);

}  // namespace xrun
