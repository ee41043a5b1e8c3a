#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "core/fs_util.h"

namespace xrun {

namespace {
bool g_verbose = false;  // -v before a subcommand

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::Trace:
      return spdlog::level::trace;
    case LogLevel::Debug:
      return spdlog::level::debug;
    case LogLevel::Info:
      return spdlog::level::info;
    case LogLevel::Warn:
      return spdlog::level::warn;
    case LogLevel::Error:
      return spdlog::level::err;
  }
  return spdlog::level::err;
}
}  // namespace

void request_verbose_logging() { g_verbose = true; }

void init_logging(bool verbose) {
  verbose |= g_verbose;
  auto level = spdlog::level::warn;
  if (auto env = get_env("XRUN_LOG"); env && !env->empty()) level = spdlog::level::from_str(*env);
  if (verbose && level > spdlog::level::debug) level = spdlog::level::debug;
  auto logger = spdlog::stderr_logger_st("xrun");
  logger->set_pattern("xrun: [%l] %v");
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

bool log_enabled(LogLevel level) { return spdlog::default_logger_raw()->should_log(to_spdlog(level)); }

void log_message(LogLevel level, std::string_view message) {
  spdlog::default_logger_raw()->log(to_spdlog(level), "{}", message);
}

void log_flush() { spdlog::default_logger_raw()->flush(); }

namespace log_detail {

std::string format(std::string_view pattern, const std::vector<Arg>& args) {
  std::string out;
  std::size_t next = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') {
      out += pattern[i];
      continue;
    }
    const auto close = pattern.find('}', i);
    if (close == std::string_view::npos || next >= args.size()) {
      out.append(pattern.substr(i));
      break;
    }
    const Arg& a = args[next++];
    const std::string_view spec = pattern.substr(i + 1, close - i - 1);  // "" or ":.2f"
    int decimals = -1;
    if (spec.size() == 4 && spec[0] == ':' && spec[1] == '.' && spec[3] == 'f') decimals = spec[2] - '0';
    if (decimals >= 0 && decimals <= 9 && a.is_number) {
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%.*f", decimals, a.number);
      out += buffer;
    } else {
      out += a.text;
    }
    i = close;
  }
  return out;
}

}  // namespace log_detail

}  // namespace xrun
