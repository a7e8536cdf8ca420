// Rank-aware logging on top of spdlog. Rank 0 logs at the configured level, other ranks only
// warnings and errors (set log_all_ranks to see everything), each line tagged with the rank.
#pragma once
#include <spdlog/spdlog.h>

#include <string>

namespace llamarec {

struct LogOptions {
  int rank = 0;
  int world_size = 1;
  std::string level = "info";  // trace, debug, info, warn, error
  bool log_all_ranks = false;
};

// Installs the process-wide default logger. Safe to call again (e.g. once the rank is known).
void init_logging(const LogOptions& options);

// The rank this process was initialised with (0 before init_logging).
int log_rank();

}  // namespace llamarec
