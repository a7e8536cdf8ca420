// The orders in which an evaluation shows a user's candidates to the ranker. Every model has a prior
// over the 20 answer letters (position bias); shown in retriever order, that prior is confounded with
// the retriever's own ranking. Shuffled orders and averages over several orders tell them apart.
//
// An order maps a letter slot to an index into RankerExample::candidates (retriever order):
// order[s] = which candidate is shown under letter s. The identity is the retriever's order.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "core/sequence_dataset.h"

namespace llamarec {

using CandidateOrder = std::vector<int64_t>;

CandidateOrder retriever_order(int64_t num_candidates);

// `count` seeded shuffles of a user's candidates: a function of (seed, split, global user) only, so
// the same for any number of ranks and any batching.
std::vector<CandidateOrder> shuffled_orders(uint64_t seed, Split split, int64_t global_user, int64_t num_candidates,
                                            int64_t count);

// The candidates (item ids, retriever order) as shown in `order`: letter s shows candidates[order[s]].
std::vector<int64_t> in_order(const std::vector<int64_t>& candidates, const CandidateOrder& order);

// Scores indexed by letter slot [..., C] -> the same scores indexed by candidate [..., C].
torch::Tensor slots_to_candidates(const torch::Tensor& slot_scores, const CandidateOrder& order);

}  // namespace llamarec
