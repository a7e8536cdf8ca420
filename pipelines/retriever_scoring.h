// Scoring users with the retriever (docs/llamarec.md, "Retriever"): last-position scores over all items for the val
// input (train part) or test input (train + val), with the padding item and, optionally, the items
// of the input window masked out. Shared by validation, retrieval and evaluation.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "core/ranking_metrics.h"
#include "core/sequence_dataset.h"
#include "distributed/communicator.h"
#include "models/lru_rec.h"

namespace llamarec {

struct ScoringOptions {
  Split split = Split::kVal;
  int64_t max_len = 200;
  bool exclude_history = true;
  int64_t batch_size = 128;
};

// Masked value of excluded items; -1e9 as the reference, finite so that top-k stays well defined.
inline constexpr float kMaskedScore = -1e9f;

// Calls `consume(local_users [b], scores [b, I+1] float32, labels [b] int64)` for batches of this
// shard's users that have an evaluation example, ordered by window length (shortest first; ties in
// user order). Runs in eval mode without grad.
void for_each_scored_batch(
    LruRec& model, const SequenceDataset& shard, const ScoringOptions& options,
    const std::function<void(const std::vector<int64_t>&, const torch::Tensor&, const torch::Tensor&)>& consume);

// Exact metrics over all users of all ranks: per-rank sums, all-reduced.
RankingMetrics evaluate_retriever(LruRec& model, const SequenceDataset& shard, const ScoringOptions& options,
                                  const std::vector<int64_t>& ks, Communicator& comm);

}  // namespace llamarec
