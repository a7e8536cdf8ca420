#include "pipelines/training/global_batch_plan.h"

#include <random>

#include "core/error.h"
#include "pipelines/training/seed_policy.h"

namespace llamarec {

GlobalBatchPlan::GlobalBatchPlan(int64_t first_example, int64_t local_examples, int64_t total_examples,
                                 int64_t batch_size)
    : first_(first_example), local_(local_examples), total_(total_examples), batch_size_(batch_size) {
  if (batch_size < 1) fail("training: batch size must be >= 1");
  if (first_ < 0 || first_ + local_ > total_) {
    fail("training: inconsistent example ranges (first {}, local {}, total {})", first_, local_, total_);
  }
}

void GlobalBatchPlan::start_epoch(uint64_t run_seed, int64_t epoch) {
  order_.resize(static_cast<size_t>(total_));
  for (int64_t i = 0; i < total_; ++i) order_[static_cast<size_t>(i)] = i;
  // mt19937_64 and a hand-written Fisher-Yates: identical on every platform and rank (std::shuffle's
  // algorithm is implementation-defined).
  std::mt19937_64 rng(epoch_order_seed(run_seed, epoch));
  for (int64_t i = total_ - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order_[static_cast<size_t>(i)], order_[static_cast<size_t>(j)]);
  }
}

std::vector<int64_t> GlobalBatchPlan::local_batch(int64_t step) const {
  std::vector<int64_t> out;
  const int64_t begin = step * batch_size_;
  const int64_t end = std::min(total_, begin + batch_size_);
  for (int64_t i = begin; i < end; ++i) {
    const int64_t g = order_[static_cast<size_t>(i)];
    if (g >= first_ && g < first_ + local_) out.push_back(g - first_);
  }
  return out;
}

}  // namespace llamarec
