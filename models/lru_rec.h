// LRURec, the retriever (docs/llamarec.md, "Retriever"): embedding → LRU blocks → tied-embedding scores + item bias.
//
// Parameter names follow the reference state dict (`embedding.token.weight`,
// `model.lru_blocks.N.lru_layer.params_log`, `model.lru_blocks.N.feed_forward.w_1.weight`,
// `model.bias`, ...), except that each complex64 tensor `X` of the reference is split into
// `X_real`/`X_imag` pairs: `...lru_layer.in_proj.weight` ↔ `...in_proj.weight_real` +
// i·`...in_proj.weight_imag`, likewise `in_proj.bias`, `out_proj.weight`, `out_proj.bias`.
// The init and weight-decay rules of models/lru_params.h work on these names. As in the reference,
// `...out_proj.bias_imag` never reaches the output (only Re(out_proj(h)) is used): its .grad stays
// undefined (the reference's is identically zero), so gradient buckets should treat it as zero.
#pragma once
#include <torch/torch.h>

#include "models/lru_config.h"
#include "models/lru_embedding.h"
#include "models/lru_model.h"

namespace llamarec {

class LruRecImpl : public torch::nn::Module {
 public:
  // Validates the config and applies the reference truncated-normal init.
  explicit LruRecImpl(const LruConfig& config);

  // tokens: [B, L] item ids in [0, num_items], 0 only as left padding (int32 or int64) → [B, L, D].
  torch::Tensor hidden(const torch::Tensor& tokens);
  // Scores for every position: [B, L, num_items + 1] (training logits; next item at each position).
  torch::Tensor forward(const torch::Tensor& tokens);
  // Scores at the last position only, for retrieval: [B, num_items + 1].
  torch::Tensor scores_last(const torch::Tensor& tokens);
  // Hidden states [.., D] → scores [.., num_items + 1] = h · Eᵀ + bias.
  torch::Tensor score(const torch::Tensor& hidden_states);

  // Cross-entropy over all num_items + 1 classes at the positions whose label is not 0
  // (CrossEntropyLoss(ignore_index=0) of the reference), with the scores computed only at those
  // positions and through the fused lru_softmax_cross_entropy (no [B, L, V] tensors). labels: [B, L]
  // like tokens. loss() is the mean (0 when no label is set, where the reference gives NaN);
  // loss_sum() the sum, for exact means across ranks.
  torch::Tensor loss(const torch::Tensor& tokens, const torch::Tensor& labels);
  torch::Tensor loss_sum(const torch::Tensor& tokens, const torch::Tensor& labels);

  const LruConfig& config() const { return config_; }
  void set_scan(LruScan scan) { config_.scan = scan; }
  // The fused scan is CPU-only; on other devices the parallel scan runs instead.
  LruScan scan_for(const torch::Device& device) const;

  LruEmbedding embedding{nullptr};
  LruModel model{nullptr};

 private:
  // Leading columns that can be skipped (see lru_rec.cpp) and the blocks' output from `start` on.
  int64_t first_needed_column(const torch::Tensor& ids) const;
  torch::Tensor hidden_from(const torch::Tensor& ids, int64_t start);
  torch::Tensor labelled_loss(const torch::Tensor& tokens, const torch::Tensor& labels, bool mean);

  LruConfig config_;
};
TORCH_MODULE(LruRec);

}  // namespace llamarec
