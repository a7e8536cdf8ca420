#include "models/lru_ffn.h"

#include "core/profile_scope.h"
#include "models/lru_dropout.h"

namespace llamarec {

LruFeedForwardImpl::LruFeedForwardImpl(int64_t d_model, int64_t d_ff, double dropout_p) : dropout(dropout_p) {
  w_1 = register_module("w_1", torch::nn::Linear(d_model, d_ff));
  w_2 = register_module("w_2", torch::nn::Linear(d_ff, d_model));
  layer_norm = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model}).eps(1e-5)));
}

torch::Tensor LruFeedForwardImpl::forward(const torch::Tensor& x) {
  const ProfileScope profile("lru.ffn");
  const auto inner = lru_dropout(torch::gelu(w_1(x)), dropout, is_training());  // exact (erf) GELU, as nn.GELU()
  return layer_norm(lru_dropout(w_2(inner), dropout, is_training()) + x);
}

}  // namespace llamarec
