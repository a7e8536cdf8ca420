#include "models/lru_block.h"

namespace llamarec {

LruBlockImpl::LruBlockImpl(const LruConfig& config) {
  lru_layer = register_module("lru_layer", LruLayer(config.hidden, config.attn_dropout, config.r_min, config.r_max));
  feed_forward = register_module("feed_forward", LruFeedForward(config.hidden, 4 * config.hidden, config.dropout));
}

torch::Tensor LruBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, LruScan scan,
                                    const LruPacking* packing) {
  return feed_forward(lru_layer(x, mask, scan, packing));
}

}  // namespace llamarec
