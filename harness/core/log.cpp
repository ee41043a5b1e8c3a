#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include "core/fs_util.h"

namespace xrun {

void init_logging(bool verbose) {
  auto level = spdlog::level::warn;
  if (auto env = get_env("XRUN_LOG"); env && !env->empty()) level = spdlog::level::from_str(*env);
  if (verbose && level > spdlog::level::debug) level = spdlog::level::debug;
  auto logger = spdlog::stderr_logger_st("xrun");
  logger->set_pattern("xrun: [%l] %v");
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

}  // namespace xrun
