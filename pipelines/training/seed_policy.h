// Every random stream of a training run, derived from run.seed in one place, so that a run is a
// function of its config and the same for any number of ranks where the math allows it:
//  - initialisation: the same on every rank (and broadcast from rank 0 to be certain);
//  - the global example order of an epoch: the same on every rank (GlobalBatchPlan);
//  - dropout: one stream per rank, re-seeded from the step when a run resumes.
// The two dropout stream salts predate this file; they are kept so that runs stay bit-identical
// to earlier releases (see docs/training.md, "Seeds").
#pragma once
#include <cstdint>

namespace llamarec {

enum class DropoutStream : uint64_t {
  kRetriever = 1000003ULL,
  kRanker = 7919ULL,
};

// SplitMix64's finaliser: decorrelates seeds built from small integers.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Seed of the ranker's training example for a user's prefix (negatives and candidate order).
inline uint64_t ranker_example_seed(uint64_t run_seed, int64_t global_user, int64_t prefix) {
  return splitmix64(splitmix64(run_seed) ^
                    splitmix64(static_cast<uint64_t>(global_user) * 1000003ULL + static_cast<uint64_t>(prefix)));
}

// Seed of the candidate orders an evaluation shows a user (shuffled control, permutations);
// `split` 0 = val, 1 = test, so that a user's val and test orders differ.
inline uint64_t candidate_order_seed(uint64_t run_seed, int split, int64_t global_user) {
  return splitmix64(splitmix64(run_seed ^ 0x6f72646572ULL) ^
                    splitmix64(static_cast<uint64_t>(global_user) * 4ULL + static_cast<uint64_t>(split)));
}

// Seed of the global example order of `epoch` (mt19937_64 in GlobalBatchPlan).
inline uint64_t epoch_order_seed(uint64_t run_seed, int64_t epoch) {
  return run_seed * 1000003ULL + static_cast<uint64_t>(epoch);
}

// Seed of LibTorch's default generator for the dropout draws of `rank` from `step` on.
inline uint64_t dropout_seed(uint64_t run_seed, DropoutStream stream, int rank, int64_t step) {
  return run_seed + static_cast<uint64_t>(stream) * static_cast<uint64_t>(rank + 1) + static_cast<uint64_t>(step);
}

}  // namespace llamarec
