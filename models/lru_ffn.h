// The position-wise feed-forward block after each LRU layer (reference PositionwiseFeedForward):
// LayerNorm(x + Dropout(W2 · Dropout(GELU(W1 x + b1)) + b2)). One GELU, as in the code (the
// paper's Eq. 8 has a second one).
#pragma once
#include <torch/torch.h>

namespace llamarec {

class LruFeedForwardImpl : public torch::nn::Module {
 public:
  LruFeedForwardImpl(int64_t d_model, int64_t d_ff, double dropout);

  torch::Tensor forward(const torch::Tensor& x);  // [.., D] → [.., D]

  torch::nn::Linear w_1{nullptr};  // D → d_ff
  torch::nn::Linear w_2{nullptr};  // d_ff → D
  double dropout;                  // after the GELU and after w_2 (lru_dropout)
  torch::nn::LayerNorm layer_norm{nullptr};
};
TORCH_MODULE(LruFeedForward);

}  // namespace llamarec
