#include "config_file.h"

#include <fstream>

std::map<std::string, std::string> read_settings(const std::string& path) {
  std::map<std::string, std::string> settings;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(' '));
      s.erase(s.find_last_not_of(' ') + 1);
      return s;
    };
    settings[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return settings;
}
