#include "models/lru_model.h"

#include "core/error.h"

namespace llamarec {
namespace {

// Left padding the parallel scan needs to reach a power-of-two length (none for the fused scan).
int64_t scan_padding(int64_t length, LruScan scan) {
  if (scan != LruScan::kParallel) return 0;
  int64_t padded_length = 1;
  while (padded_length < length) padded_length *= 2;
  return padded_length - length;
}

}  // namespace

LruModelImpl::LruModelImpl(const LruConfig& config) {
  lru_blocks = register_module("lru_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_blocks; ++i) lru_blocks->push_back(LruBlock(config));
  bias = register_parameter("bias", torch::zeros({config.num_items + 1}));
}

torch::Tensor LruModelImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, LruScan scan) {
  const int64_t length = x.size(1);
  const int64_t pad = scan_padding(length, scan);
  auto h = pad > 0 ? torch::constant_pad_nd(x, {0, 0, pad, 0}) : x;  // [B, L', D]
  const auto m = pad > 0 ? torch::cat({torch::zeros({mask.size(0), pad}, mask.options()), mask}, 1) : mask;  // [B, L']
  for (const auto& block : *lru_blocks) h = block->as<LruBlock>()->forward(h, m, scan);
  return pad > 0 ? h.narrow(1, pad, length) : h;  // [B, L, D]
}

torch::Tensor LruModelImpl::forward_kept(const torch::Tensor& x, const torch::Tensor& mask, const torch::Tensor& kept,
                                         LruScan scan) {
  const int64_t batch = mask.size(0), length = mask.size(1);
  const int64_t pad = scan_padding(length, scan);
  const auto m = pad > 0 ? torch::cat({torch::zeros({batch, pad}, mask.options()), mask}, 1) : mask;  // [B, L']
  const auto k = pad > 0 ? torch::cat({torch::zeros({batch, pad}, kept.options()), kept}, 1) : kept;  // [B, L']
  const auto packing = lru_packing(m, k);
  if (packing.index.size(0) != x.size(0))
    fail("LruModel: {} kept positions but {} input rows", packing.index.size(0), x.size(0));
  auto h = x;  // [T, D]
  for (const auto& block : *lru_blocks) h = block->as<LruBlock>()->forward(h, m, scan, &packing);
  return h;
}

}  // namespace llamarec
