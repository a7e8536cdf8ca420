// LRURec hyperparameters (docs/llamarec.md, "Retriever"); the [retriever] config section holds one
// (pipelines/config.h), so these defaults are the only ones.
#pragma once
#include <cstdint>
#include <string>

namespace llamarec {

// How the linear recurrence of every LRU layer is evaluated. Both give the same values and
// gradients (tests/models/test_lru_scan.cpp).
enum class LruScan {
  kFused,     // sequential loop over time in one custom autograd kernel (CPU), any length
  kParallel,  // the reference's log2(L)-pass scan on tensor ops (any device); needs the power-of-two padding
};

struct LruConfig {
  int64_t num_items = 0;      // item ids are 1..num_items; 0 is padding (vocabulary num_items + 1)
  int64_t hidden = 64;        // D = bert_hidden_units; the complex state has H = 2·D channels
  int64_t num_blocks = 2;     // bert_num_blocks
  double dropout = 0.2;       // bert_dropout: after the embedding lookup and inside the FFN
  double attn_dropout = 0.2;  // bert_attn_dropout: on the LRU layer's output projection
  double r_min = 0.8;         // ring init: |λ| uniform in area between r_min and r_max
  double r_max = 0.99;
  LruScan scan = LruScan::kFused;
};

// Throws llamarec::Error naming `where` (e.g. "config.toml: [retriever]") and the bad field.
void validate_lru_config(const LruConfig& config, const std::string& where);

// "fused" or "parallel" (case-sensitive); throws naming `where` otherwise.
LruScan parse_lru_scan(const std::string& name, const std::string& where);
std::string to_string(LruScan scan);

}  // namespace llamarec
