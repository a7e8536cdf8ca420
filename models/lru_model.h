// The LRURec block stack with the item bias (reference LRUModel, registered as "model" inside
// LruRec so that parameter names match the reference state dict).
#pragma once
#include <torch/torch.h>

#include "models/lru_block.h"
#include "models/lru_config.h"

namespace llamarec {

class LruModelImpl : public torch::nn::Module {
 public:
  explicit LruModelImpl(const LruConfig& config);

  // x: [B, L, D] embedded inputs, mask: [B, L] bool → [B, L, D] final hidden states.
  // The parallel scan needs a power-of-two length, so the time axis is then left-padded with zero
  // vectors (mask false) and cut back afterwards, as the reference does. The fused scan runs on the
  // L positions directly: a padded prefix resets the recurrence, so the extra zero positions cannot
  // change any of the L outputs (the equality is tested).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, LruScan scan);
  // The same on the kept positions only: x [T, D] holds the inputs at the true entries of `kept`
  // [B, L] (row-major), mask [B, L] as above; returns [T, D], each row what forward() gives there.
  torch::Tensor forward_kept(const torch::Tensor& x, const torch::Tensor& mask, const torch::Tensor& kept,
                             LruScan scan);

  torch::nn::ModuleList lru_blocks{nullptr};
  torch::Tensor bias;  // [num_items + 1] item bias added to the tied-embedding scores
};
TORCH_MODULE(LruModel);

}  // namespace llamarec
