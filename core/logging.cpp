#include "core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "core/error.h"

namespace llamarec {
namespace {
int g_rank = 0;
}

void init_logging(const LogOptions& options) {
  g_rank = options.rank;
  auto level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    fail("unknown log level '{}' (expected trace, debug, info, warn, error or off)", options.level);
  }
  const std::string name = "llamarec_r" + std::to_string(options.rank);
  spdlog::drop(name);
  auto logger = spdlog::stderr_color_mt(name);
  // Time, rank (only in multi-rank runs) and level: enough to read a log at a glance.
  const std::string rank_tag = options.world_size > 1 ? fmt::format(" r{}", options.rank) : "";
  logger->set_pattern("[%H:%M:%S" + rank_tag + "] %^%l%$ %v");
  const bool quiet = options.rank != 0 && !options.log_all_ranks;
  logger->set_level(quiet ? std::max(level, spdlog::level::warn) : level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

int log_rank() { return g_rank; }

}  // namespace llamarec
