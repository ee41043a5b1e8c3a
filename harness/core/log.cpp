#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include "core/fs_util.h"

namespace xrun {

namespace {
bool g_verbose = false;  // -v before a subcommand
}

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

}  // namespace xrun
