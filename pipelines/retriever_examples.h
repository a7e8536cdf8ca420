// LRURec training examples (spec §2.2) and the global batch order shared by all ranks.
//
// Each user's train list yields one example when it is shorter than 2·max_len, otherwise
// non-overlapping windows of max_len items taken from the end (the oldest leftover is dropped).
// An example is a slice s[start, end) of the train list: labels = s[start:end][-max_len:],
// tokens = s[start:end-1][-max_len:], both left-padded with 0, so every position predicts the next
// item.
//
// Data parallelism: examples are numbered globally in user order (rank r's shard holds a contiguous
// block of them); every epoch a permutation drawn from (seed, epoch) on every rank defines the global
// batches, and each rank trains on the examples of each batch that it owns. The global batches are
// therefore the same for any number of ranks.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "core/sequence_dataset.h"

namespace llamarec {

struct RetrieverExample {
  int64_t local_user = 0;
  int64_t start = 0;  // slice of the user's train list
  int64_t end = 0;
};

// This shard's examples, in (user, window from oldest to newest) order.
std::vector<RetrieverExample> make_retriever_examples(const SequenceDataset& shard, int64_t max_len);

struct RetrieverBatch {
  torch::Tensor tokens;  // [b, max_len] int64, left-padded with 0
  torch::Tensor labels;  // [b, max_len] int64, 0 = no label
};

// Stacks examples (left padding).
RetrieverBatch collate_retriever_examples(const SequenceDataset& shard, const std::vector<RetrieverExample>& examples,
                                          const std::vector<int64_t>& indices, int64_t max_len);

// The last max_len items of `history`, left-padded: [max_len] int64 (evaluation input).
torch::Tensor left_padded_window(ItemSpan history, int64_t max_len);

class GlobalBatchPlan {
 public:
  // first_example: global index of this rank's first example; total: examples over all ranks.
  GlobalBatchPlan(int64_t first_example, int64_t local_examples, int64_t total_examples, int64_t batch_size);

  int64_t steps_per_epoch() const { return (total_ + batch_size_ - 1) / batch_size_; }
  int64_t total_examples() const { return total_; }
  // Draws epoch `epoch`'s permutation (same on every rank for the same seed).
  void start_epoch(uint64_t seed, int64_t epoch);
  // Local example indices of global batch `step` of the current epoch (possibly empty).
  std::vector<int64_t> local_batch(int64_t step) const;

 private:
  int64_t first_;
  int64_t local_;
  int64_t total_;
  int64_t batch_size_;
  std::vector<int64_t> order_;  // global example ids in epoch order
};

}  // namespace llamarec
