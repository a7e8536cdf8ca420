// LRURec training examples (docs/llamarec.md, "Retriever").
//
// Each user's train list yields one example when it is shorter than 2·max_len, otherwise
// non-overlapping windows of max_len items taken from the end (the oldest leftover is dropped).
// An example is a slice s[start, end) of the train list: labels = s[start:end][-max_len:],
// tokens = s[start:end-1][-max_len:], both left-padded with 0, so every position predicts the next
// item.
//
// Which examples a rank trains on in each step: pipelines/training/global_batch_plan.h.
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

}  // namespace llamarec
