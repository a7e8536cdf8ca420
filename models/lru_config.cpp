#include "models/lru_config.h"

#include "core/error.h"

namespace llamarec {

void validate_lru_config(const LruConfig& config, const std::string& where) {
  if (config.num_items < 1) fail("{}: num_items must be at least 1, got {}", where, config.num_items);
  if (config.hidden < 1) fail("{}: hidden must be at least 1, got {}", where, config.hidden);
  if (config.num_blocks < 0) fail("{}: num_blocks must not be negative, got {}", where, config.num_blocks);
  if (!(config.dropout >= 0.0 && config.dropout < 1.0))
    fail("{}: dropout must be in [0, 1), got {}", where, config.dropout);
  if (!(config.attn_dropout >= 0.0 && config.attn_dropout < 1.0))
    fail("{}: attn_dropout must be in [0, 1), got {}", where, config.attn_dropout);
  if (!(config.r_min > 0.0 && config.r_min <= config.r_max && config.r_max < 1.0))
    fail("{}: need 0 < r_min <= r_max < 1, got r_min {} and r_max {}", where, config.r_min, config.r_max);
}

LruScan parse_lru_scan(const std::string& name, const std::string& where) {
  if (name == "fused") return LruScan::kFused;
  if (name == "parallel") return LruScan::kParallel;
  fail("{}: unknown LRU scan '{}' (expected fused or parallel)", where, name);
}

std::string to_string(LruScan scan) { return scan == LruScan::kFused ? "fused" : "parallel"; }

}  // namespace llamarec
