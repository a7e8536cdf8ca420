// A deterministic synthetic dataset for demos and tests, learnable by a sequential recommender:
// items belong to taste clusters whose words appear in their titles ("Crimson Harbor Lantern 7"),
// each item has a successor in its cluster that often comes next, and users mostly stay within one
// or two preferred clusters. Same options and seed, same data, on every platform (no std::
// distributions, whose output is implementation-defined).
#pragma once
#include <cstdint>

#include "pipelines/importers/raw_dataset.h"

namespace llamarec {

struct SyntheticOptions {
  int64_t users = 2000;
  int64_t items = 800;
  int64_t min_length = 8;
  int64_t max_length = 60;
  uint64_t seed = 42;
};

// Probabilities of the next item's origin (the rest is a uniformly random item: noise).
inline constexpr double kSyntheticSuccessorProbability = 0.55;
inline constexpr double kSyntheticClusterProbability = 0.35;

RawDataset generate_synthetic(const SyntheticOptions& options);

}  // namespace llamarec
