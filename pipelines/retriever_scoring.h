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

// One input to score: the last max_len items of `history` predict `target`.
struct ScoringWindow {
  int64_t user = 0;  // local user
  ItemSpan history;
  int32_t target = 0;
};

// consume(ids [b], scores [b, I+1] float32 on the CPU (whatever device the model is on), labels [b] int64).
using ScoredBatchConsumer =
    std::function<void(const std::vector<int64_t>& ids, const torch::Tensor& scores, const torch::Tensor& labels)>;

// Calls `consume` for batches of `windows` (ids = indices into `windows`), ordered by window length
// (shortest first; ties in input order). Runs in eval mode without grad. options.split is not used.
void for_each_scored_window(LruRec& model, const std::vector<ScoringWindow>& windows, const ScoringOptions& options,
                            const ScoredBatchConsumer& consume);

// The evaluation windows of this shard's users that have one, in user order.
std::vector<ScoringWindow> eval_windows(const SequenceDataset& shard, Split split);

// The windows of every training prefix of this shard's users, in (user, prefix) order: for
// i = 2..|train|, history train[:i-1] and target train[i-1] (the ranker's training examples,
// ranker_examples.h).
std::vector<ScoringWindow> training_prefix_windows(const SequenceDataset& shard);

// for_each_scored_window over eval_windows(shard, options.split); the ids are local users.
void for_each_scored_batch(LruRec& model, const SequenceDataset& shard, const ScoringOptions& options,
                           const ScoredBatchConsumer& consume);

// Exact metrics over all users of all ranks: per-rank sums, all-reduced.
RankingMetrics evaluate_retriever(LruRec& model, const SequenceDataset& shard, const ScoringOptions& options,
                                  const std::vector<int64_t>& ks, Communicator& comm);

}  // namespace llamarec
