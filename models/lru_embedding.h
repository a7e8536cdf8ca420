// The LRURec input embedding (reference LRUEmbedding): LayerNorm(Dropout(E[tokens])). E has
// num_items + 1 rows and no padding_idx (row 0 is trained too); it is tied to the output scores.
#pragma once
#include <torch/torch.h>

#include "models/lru_config.h"

namespace llamarec {

class LruEmbeddingImpl : public torch::nn::Module {
 public:
  explicit LruEmbeddingImpl(const LruConfig& config);

  torch::Tensor forward(const torch::Tensor& tokens);  // [B, L] int64 → [B, L, D]

  torch::nn::Embedding token{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
  double embed_dropout;  // on E[tokens], before the LayerNorm (lru_dropout)
};
TORCH_MODULE(LruEmbedding);

}  // namespace llamarec
