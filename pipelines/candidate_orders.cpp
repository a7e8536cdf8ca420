#include "pipelines/candidate_orders.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "core/error.h"
#include "pipelines/training/seed_policy.h"

namespace llamarec {

CandidateOrder retriever_order(int64_t num_candidates) {
  CandidateOrder order(static_cast<size_t>(num_candidates));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

std::vector<CandidateOrder> shuffled_orders(uint64_t seed, Split split, int64_t global_user, int64_t num_candidates,
                                            int64_t count) {
  std::mt19937_64 rng(candidate_order_seed(seed, split == Split::kVal ? 0 : 1, global_user));
  std::vector<CandidateOrder> out;
  for (int64_t k = 0; k < count; ++k) {
    auto order = retriever_order(num_candidates);
    std::shuffle(order.begin(), order.end(), rng);
    out.push_back(std::move(order));
  }
  return out;
}

std::vector<int64_t> in_order(const std::vector<int64_t>& candidates, const CandidateOrder& order) {
  std::vector<int64_t> out;
  for (const auto i : order) out.push_back(candidates.at(static_cast<size_t>(i)));
  return out;
}

torch::Tensor slots_to_candidates(const torch::Tensor& slot_scores, const CandidateOrder& order) {
  const auto n = static_cast<int64_t>(order.size());
  if (slot_scores.size(-1) != n) fail("candidate order of {} slots for scores of {}", n, slot_scores.size(-1));
  // index_copy along the last dim: out[..., order[s]] = in[..., s].
  return torch::zeros_like(slot_scores).index_copy_(-1, torch::tensor(order, torch::kLong), slot_scores);
}

}  // namespace llamarec
