// One LRURec block (reference LRUBlock): x = FFN(LRULayer(x, mask)).
#pragma once
#include <torch/torch.h>

#include "models/lru_config.h"
#include "models/lru_ffn.h"
#include "models/lru_layer.h"

namespace llamarec {

class LruBlockImpl : public torch::nn::Module {
 public:
  // d_ff = 4·D; the LRU layer uses attn_dropout, the FFN dropout (as the reference).
  explicit LruBlockImpl(const LruConfig& config);

  // [B, L, D], or [T, D] with `packing` (models/lru_layer.h).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, LruScan scan,
                        const LruPacking* packing = nullptr);

  LruLayer lru_layer{nullptr};
  LruFeedForward feed_forward{nullptr};
};
TORCH_MODULE(LruBlock);

}  // namespace llamarec
