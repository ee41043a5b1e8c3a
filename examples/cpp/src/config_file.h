// Reads "key = value" lines, as a device might read its settings file.
#pragma once

#include <map>
#include <string>

std::map<std::string, std::string> read_settings(const std::string& path);
