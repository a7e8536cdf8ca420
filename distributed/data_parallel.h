// Data parallelism for replicated models: every rank's gradients live in one flat bucket (each
// parameter's .grad() is its slot, as with PyTorch DDP's gradient_as_bucket_view), which is
// all-reduced (averaged) in a single collective, with nothing copied in or out. Small models like
// LRURec are latency-bound, so one collective per step beats one per parameter. Parameters on
// another device than the communicator's (LRURec on CUDA over MPI) go through a copy of the bucket
// on the communicator's device: a host round trip per step, small beside a step for such models.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "distributed/communicator.h"

namespace llamarec {

class DataParallel {
 public:
  // `parameters`: the trainable parameters, in the same order on every rank. Their gradients move
  // into the bucket (they share its storage), keeping any values they hold.
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

  // torch::nn::utils::clip_grad_norm_ (2-norm) on the bucket, bit for bit where the norm is finite:
  // the same per-parameter norms and norm of norms, then one scaling pass over the bucket where the
  // factor is below 1 (LibTorch multiplies every gradient, by 1 when nothing is clipped, and by NaN
  // when the norm is NaN: here such a step's gradients are left as they are, and the trainer skips it).
  // A parameter without a gradient counts as zeros (LibTorch leaves it out). Returns the norm before
  // clipping; max_norm = infinity only measures it.
  double clip_grad_norm(double max_norm);

  int64_t bucket_numel() const { return bucket_numel_; }

 private:
  // Points every gradient back at its slot where something replaced it (LibTorch 2's zero_grad sets
  // them to undefined by default), keeping its value; an undefined gradient is zeros.
  void bind_gradients();
  // `collective` on `tensor`, through a copy on the communicator's device where it lives elsewhere.
  void on_comm_device(torch::Tensor& tensor, const std::function<void(torch::Tensor&)>& collective);

  Communicator& comm_;
  std::vector<torch::Tensor> parameters_;
  int64_t bucket_numel_ = 0;
  torch::Tensor bucket_;  // [bucket_numel + 3]: flat gradients, weight, value, flag; reused every step
};

}  // namespace llamarec
