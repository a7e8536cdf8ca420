#include "models/lru_embedding.h"

#include "core/profile_scope.h"
#include "models/lru_dropout.h"

namespace llamarec {

LruEmbeddingImpl::LruEmbeddingImpl(const LruConfig& config) : embed_dropout(config.dropout) {
  token = register_module("token", torch::nn::Embedding(config.num_items + 1, config.hidden));
  layer_norm =
      register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden}).eps(1e-5)));
}

torch::Tensor LruEmbeddingImpl::forward(const torch::Tensor& tokens) {
  const ProfileScope profile("lru.embedding");
  return layer_norm(
      lru_dropout(token(tokens), embed_dropout, is_training()));  // dropout before the LayerNorm, as the reference
}

}  // namespace llamarec
