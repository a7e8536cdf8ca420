#include "models/lru_rec.h"

#include "core/profile_scope.h"
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

// Checked input tokens. Both scans rely on padding being a left prefix (a 0 after an item would be
// read differently).
torch::Tensor left_padded_ids(const torch::Tensor& tokens, int64_t num_items) {
  const auto ids = checked_tokens(tokens, num_items, "tokens");
  const auto mask = ids > 0;  // [B, L]
  if (ids.size(1) > 1 && (mask.narrow(1, 1, ids.size(1) - 1).lt(mask.narrow(1, 0, ids.size(1) - 1))).any().item<bool>())
    fail("LruRec: tokens hold a padding id 0 after an item; sequences must be left-padded");
  return ids;
}

// First column of `ids` [B, L] that holds an item in any row (L when none does).
int64_t first_item_column(const torch::Tensor& ids) {
  const auto any = (ids > 0).any(0);  // [L]
  return any.any().item<bool>() ? any.to(torch::kInt).argmax().item<int64_t>() : ids.size(1);
}

}  // namespace

// Padded positions never feed later ones (the scan is masked) and all compute the same value, so
// every leading all-padding column but the last is dropped: one padding column stays for a label
// predicted from padding alone. Results are unchanged; an Amazon window (median 6 items of 50)
// shrinks to its batch's longest history.
int64_t LruRecImpl::first_needed_column(const torch::Tensor& ids) const {
  return std::max<int64_t>(0, first_item_column(ids) - 1);
}

torch::Tensor LruRecImpl::hidden_from(const torch::Tensor& ids, int64_t start) {
  const auto kept = ids.narrow(1, start, ids.size(1) - start);
  return model(embedding(kept), kept > 0, scan_for(ids.device()));  // [B, L - start, D]
}

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
  const auto ids = left_padded_ids(tokens, config_.num_items);
  const int64_t start = first_needed_column(ids);
  const auto h = hidden_from(ids, start);  // [B, L - start, D]
  if (start == 0) return h;
  // Column 0 of h is padding everywhere: its value is that of every dropped column.
  return torch::cat({h.narrow(1, 0, 1).expand({h.size(0), start, h.size(2)}), h}, 1);  // [B, L, D]
}

torch::Tensor LruRecImpl::score(const torch::Tensor& hidden_states) {
  return torch::linear(hidden_states, embedding->token->weight, model->bias);
}

torch::Tensor LruRecImpl::forward(const torch::Tensor& tokens) { return score(hidden(tokens)); }

torch::Tensor LruRecImpl::scores_last(const torch::Tensor& tokens) {
  const auto ids = left_padded_ids(tokens, config_.num_items);
  const auto h = hidden_from(ids, first_needed_column(ids));  // [B, L', D]
  return score(h.select(1, h.size(1) - 1));
}

torch::Tensor LruRecImpl::labelled_loss(const torch::Tensor& tokens, const torch::Tensor& labels, bool mean) {
  if (labels.sizes() != tokens.sizes())
    fail("LruRec: labels {} must have the shape of tokens {}", c10::str(labels.sizes()), c10::str(tokens.sizes()));
  torch::Tensor ids, targets_all;
  int64_t start = 0;
  {
    const ProfileScope profile("lru.input_checks");
    ids = left_padded_ids(tokens, config_.num_items);
    // Labels on dropped columns would need their padding output: start early enough to keep them.
    start = std::min(first_needed_column(ids), first_item_column(labels));
    targets_all = checked_tokens(labels, config_.num_items, "labels").narrow(1, start, ids.size(1) - start);
  }
  // Only positions that hold an item or a label are computed (LruPacking): the others' outputs are
  // never read.
  const auto kept_ids = ids.narrow(1, start, ids.size(1) - start);  // [B, L']
  const auto kept = (kept_ids > 0).logical_or(targets_all > 0);     // [B, L']
  const auto h = model->forward_kept(embedding(kept_ids.index({kept})), kept_ids > 0, kept,
                                     scan_for(ids.device()));  // [T, D]
  const ProfileScope profile("lru.scores_softmax");
  const auto targets = targets_all.index({kept});  // [T]
  const auto labelled = targets > 0;
  return lru_softmax_cross_entropy(h.index({labelled}), embedding->token->weight, model->bias,
                                   targets.index({labelled}), mean);
}

torch::Tensor LruRecImpl::loss(const torch::Tensor& tokens, const torch::Tensor& labels) {
  return labelled_loss(tokens, labels, true);
}

torch::Tensor LruRecImpl::loss_sum(const torch::Tensor& tokens, const torch::Tensor& labels) {
  return labelled_loss(tokens, labels, false);
}

}  // namespace llamarec
