// Data parallelism for replicated models: after backward, every rank's gradients are flattened into
// one bucket, all-reduced (averaged) in a single collective, and copied back. Small models like
// LRURec are latency-bound, so one collective per step beats one per parameter.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "distributed/communicator.h"

namespace llamarec {

class DataParallel {
 public:
  // `parameters`: the trainable parameters, in the same order on every rank.
  DataParallel(Communicator& comm, std::vector<torch::Tensor> parameters);

  // Makes every rank start from rank 0's parameter values.
  void broadcast_parameters();
  struct Totals {
    double weight = 0;  // sum over ranks of local_weight
    double value = 0;   // sum over ranks of local_value
    double flags = 0;   // sum over ranks of local_flag
  };
  // One all-reduce: gradients are summed across ranks and divided by the sum of every rank's
  // `local_weight`. With the default weight 1 that is the average; with a loss summed over this
  // rank's label tokens and weight = its token count, it is exactly the gradient of the global mean
  // loss, however unevenly the global batch is split. `local_value` (e.g. the summed loss) rides in
  // the same bucket, and so does `local_flag` (the trainer's stop request: every rank learns of
  // any rank's signal in the step's own collective). A parameter without a gradient on this rank
  // contributes zeros (ranks must agree on the bucket layout, not on which grads exist).
  Totals all_reduce_gradients(double local_weight = 1.0, double local_value = 0.0, double local_flag = 0.0);

  int64_t bucket_numel() const { return bucket_numel_; }

 private:
  Communicator& comm_;
  std::vector<torch::Tensor> parameters_;
  int64_t bucket_numel_ = 0;
  torch::Tensor bucket_;  // [bucket_numel + 3]: flat gradients, weight, value, flag; reused every step
};

}  // namespace llamarec
