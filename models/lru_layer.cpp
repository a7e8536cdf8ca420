#include "models/lru_layer.h"

#include <cmath>

#include "core/profile_scope.h"
#include "models/lru_dropout.h"
#include "models/lru_scan.h"

namespace llamarec {

torch::Tensor lru_lambda(const torch::Tensor& params_log) {
  const auto modulus = torch::exp(-torch::exp(params_log[0]));  // [H]
  const auto angle = torch::exp(params_log[1]);                 // [H]
  return torch::cat({modulus * torch::cos(angle), modulus * torch::sin(angle)}, 0);
}

LruPacking lru_packing(const torch::Tensor& mask, const torch::Tensor& kept) {
  const int64_t batch = kept.size(0), length = kept.size(1);
  LruPacking packing{kept.reshape(-1).nonzero().squeeze(1), batch, length};
  // An item's state carries to the next position of its row where that one is kept (with left
  // padding it always is: items are a suffix of the row).
  const auto next_kept =
      length > 0 ? torch::cat({kept.narrow(1, 1, length - 1), torch::zeros({batch, 1}, kept.options())}, 1) : kept;
  packing.carry = mask.logical_and(next_kept).reshape(-1).index_select(0, packing.index);  // [T]
  packing.row_starts = torch::cat({torch::zeros({1}, kept.options().dtype(torch::kLong)),
                                   kept.sum(1, false, torch::kLong).cumsum(0)});  // [batch + 1]
  return packing;
}

LruLayerImpl::LruLayerImpl(int64_t d_model, double dropout_p, double r_min, double r_max)
    : d_model(d_model), hidden(2 * d_model), dropout(dropout_p) {
  const auto u1 = torch::rand({hidden});
  const auto u2 = torch::rand({hidden});
  const auto nu_log = torch::log(-0.5 * torch::log(u1 * (r_max * r_max - r_min * r_min) + r_min * r_min));
  const auto theta_log = torch::log(u2 * (2.0 * M_PI));
  const auto modulus = torch::exp(-torch::exp(nu_log));
  const auto gamma_log = torch::log(torch::sqrt(1.0 - modulus * modulus));
  params_log = register_parameter("params_log", torch::stack({nu_log, theta_log, gamma_log}));
  in_proj = register_module("in_proj", LruComplexLinear(d_model, hidden));
  out_proj = register_module("out_proj", LruComplexLinear(hidden, d_model));
  layer_norm = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model}).eps(1e-5)));
}

torch::Tensor LruLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, LruScan scan,
                                    const LruPacking* packing) {
  torch::Tensor h, lambda;
  {
    const ProfileScope profile("lru.in_proj");
    lambda = lru_lambda(params_log);                           // [2H]
    const auto gamma = torch::exp(params_log[2]).repeat({2});  // [2H], scales real and imaginary parts
    // γ ⊙ (W x + b) with γ folded into the (small) packed weight instead of the [B, L, 2H] output.
    h = torch::linear(x, in_proj->packed_weight() * gamma.unsqueeze(1), in_proj->packed_bias() * gamma);
  }
  {
    const ProfileScope profile("lru.scan");
    if (packing && scan == LruScan::kFused) {
      h = lru_fused_scan_packed(h, lambda, packing->carry, packing->row_starts);  // [T, 2H]
    } else if (packing) {
      // [T, 2H] into the [B, L, 2H] layout the parallel scan needs, and back.
      h = torch::zeros({packing->batch * packing->length, h.size(1)}, h.options())
              .index_copy(0, packing->index, h)
              .view({packing->batch, packing->length, h.size(1)});
      h = lru_parallel_scan(h, lambda, mask).reshape({-1, h.size(2)}).index_select(0, packing->index);  // [T, 2H]
    } else {
      h = scan == LruScan::kFused ? lru_fused_scan(h, lambda, mask) : lru_parallel_scan(h, lambda, mask);  // [B, L, 2H]
    }
  }
  const ProfileScope profile("lru.out_proj");
  return layer_norm(lru_dropout(out_proj->real_part_forward(h), dropout, is_training()) + x);
}

}  // namespace llamarec
