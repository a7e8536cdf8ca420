// The global batch order that makes N ranks train like one process: examples are numbered globally
// in user order (rank r's shard holds a contiguous block of them), every epoch a permutation drawn
// from (seed, epoch) on every rank defines the global batches, and each rank trains on the examples
// of each batch that it owns. With the loss summed per rank and the gradient divided by the global
// label count (DataParallel), the update is the single-process one for any number of ranks.
#pragma once
#include <cstdint>
#include <vector>

namespace llamarec {

class GlobalBatchPlan {
 public:
  // first_example: global index of this rank's first example; total: examples over all ranks.
  GlobalBatchPlan(int64_t first_example, int64_t local_examples, int64_t total_examples, int64_t batch_size);

  int64_t steps_per_epoch() const { return (total_ + batch_size_ - 1) / batch_size_; }
  int64_t total_examples() const { return total_; }
  int64_t batch_size() const { return batch_size_; }
  // Draws epoch `epoch`'s permutation (same on every rank for the same seed).
  void start_epoch(uint64_t run_seed, int64_t epoch);
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
