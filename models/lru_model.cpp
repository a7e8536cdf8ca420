#include "models/lru_model.h"

namespace llamarec {

LruModelImpl::LruModelImpl(const LruConfig& config) {
  lru_blocks = register_module("lru_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_blocks; ++i) lru_blocks->push_back(LruBlock(config));
  bias = register_parameter("bias", torch::zeros({config.num_items + 1}));
}

torch::Tensor LruModelImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, LruScan scan) {
  const int64_t length = x.size(1);
  int64_t padded_length = 1;
  while (padded_length < length) padded_length *= 2;
  const int64_t pad = scan == LruScan::kParallel ? padded_length - length : 0;
  auto h = pad > 0 ? torch::constant_pad_nd(x, {0, 0, pad, 0}) : x;  // [B, L', D]
  const auto m = pad > 0 ? torch::cat({torch::zeros({mask.size(0), pad}, mask.options()), mask}, 1) : mask;  // [B, L']
  for (const auto& block : *lru_blocks) h = block->as<LruBlock>()->forward(h, m, scan);
  return pad > 0 ? h.narrow(1, pad, length) : h;  // [B, L, D]
}

}  // namespace llamarec
