#include "models/lru_rec.h"

#include "core/error.h"
#include "models/lru_params.h"
#include "models/lru_softmax_loss.h"

namespace llamarec {
namespace {

torch::Tensor checked_tokens(const torch::Tensor& tokens, int64_t num_items, const char* what) {
  if (tokens.dim() != 2) fail("LruRec: {} must be [B, L], got {}", what, c10::str(tokens.sizes()));
  if (tokens.size(1) < 1) fail("LruRec: {} has no positions", what);
  if (tokens.scalar_type() != torch::kLong && tokens.scalar_type() != torch::kInt)
    fail("LruRec: {} must be int32 or int64 item ids, got {}", what, c10::toString(tokens.scalar_type()));
  const auto lo = tokens.min().item<int64_t>(), hi = tokens.max().item<int64_t>();
  if (lo < 0 || hi > num_items) fail("LruRec: {} hold ids in [{}, {}], outside [0, {}]", what, lo, hi, num_items);
  return tokens.to(torch::kLong);
}

}  // namespace

LruRecImpl::LruRecImpl(const LruConfig& config) : config_(config) {
  validate_lru_config(config, "LruRec");
  embedding = register_module("embedding", LruEmbedding(config));
  model = register_module("model", LruModel(config));
  lru_truncated_normal_init(*this);
}

LruScan LruRecImpl::scan_for(const torch::Device& device) const {
  return device.is_cpu() ? config_.scan : LruScan::kParallel;
}

torch::Tensor LruRecImpl::hidden(const torch::Tensor& tokens) {
  const auto ids = checked_tokens(tokens, config_.num_items, "tokens");
  const auto mask = ids > 0;  // [B, L]
  // Both scans rely on padding being a left prefix (a 0 after an item would be read differently).
  if (ids.size(1) > 1 && (mask.narrow(1, 1, ids.size(1) - 1).lt(mask.narrow(1, 0, ids.size(1) - 1))).any().item<bool>())
    fail("LruRec: tokens hold a padding id 0 after an item; sequences must be left-padded");
  return model(embedding(ids), mask, scan_for(ids.device()));
}

torch::Tensor LruRecImpl::score(const torch::Tensor& hidden_states) {
  return torch::linear(hidden_states, embedding->token->weight, model->bias);
}

torch::Tensor LruRecImpl::forward(const torch::Tensor& tokens) { return score(hidden(tokens)); }

torch::Tensor LruRecImpl::scores_last(const torch::Tensor& tokens) {
  const auto h = hidden(tokens);  // [B, L, D]
  return score(h.select(1, h.size(1) - 1));
}

torch::Tensor LruRecImpl::labelled_loss(const torch::Tensor& tokens, const torch::Tensor& labels, bool mean) {
  if (labels.sizes() != tokens.sizes())
    fail("LruRec: labels {} must have the shape of tokens {}", c10::str(labels.sizes()), c10::str(tokens.sizes()));
  const auto targets_all = checked_tokens(labels, config_.num_items, "labels");
  const auto h = hidden(tokens);               // [B, L, D]
  const auto keep = targets_all > 0;           // [B, L]
  return lru_softmax_cross_entropy(h.index({keep}), embedding->token->weight, model->bias,
                                   targets_all.index({keep}), mean);
}

torch::Tensor LruRecImpl::loss(const torch::Tensor& tokens, const torch::Tensor& labels) {
  return labelled_loss(tokens, labels, true);
}

torch::Tensor LruRecImpl::loss_sum(const torch::Tensor& tokens, const torch::Tensor& labels) {
  return labelled_loss(tokens, labels, false);
}

}  // namespace llamarec
