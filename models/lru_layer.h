// The LRU layer (reference LRULayer; docs/llamarec.md, "Retriever"): a diagonal complex linear recurrence with H = 2·D
// channels between a complex input and output projection, then a residual and LayerNorm.
#pragma once
#include <torch/torch.h>

#include "models/lru_complex_linear.h"
#include "models/lru_config.h"

namespace llamarec {

// λ = exp(−exp(nu_log) + i·exp(theta_log)) from params_log [3, H] (rows nu_log, theta_log,
// gamma_log) as [2H] = [Re λ | Im λ].
torch::Tensor lru_lambda(const torch::Tensor& params_log);

// Position-wise work on the positions that matter only (training: items and labelled positions, about
// two thirds of a ml-latest-small batch at max_len 200). Padding never feeds a later position (the
// scan is masked), so the other positions' outputs are never read. `index` [T] int64 lists the kept
// positions of the scan's [batch, length] layout in row-major order; x is then [T, D]. The fused scan
// runs on that packed layout (`carry`, `row_starts`: lru_fused_scan_packed); the parallel scan sees
// the [batch, length] layout (the kept values scattered into zeros, gathered back after).
struct LruPacking {
  torch::Tensor index;  // [T]
  int64_t batch = 0;
  int64_t length = 0;
  torch::Tensor carry;       // [T] bool: the state carries into the next packed position
  torch::Tensor row_starts;  // [batch + 1] int64: where each row's kept positions start
};

// The packing of the true entries of `kept` [B, L] bool; mask [B, L] bool: true = real item. Every
// item position must be kept (mask implies kept), as the loss keeps items and labelled positions:
// only then is the packed scan the dense one read at the kept positions.
LruPacking lru_packing(const torch::Tensor& mask, const torch::Tensor& kept);

class LruLayerImpl : public torch::nn::Module {
 public:
  // Ring init: |λ| uniform over the annulus r_min ≤ |λ| ≤ r_max, arg λ uniform in [0, 2π),
  // γ = sqrt(1 − |λ|²).
  LruLayerImpl(int64_t d_model, double dropout, double r_min, double r_max);

  // x: [B, L, D], mask: [B, L] bool (true = real item) → [B, L, D].
  // LayerNorm(Dropout(Re(out_proj(scan(in_proj(x)·γ)))) + x).
  // With `packing`, x is [T, D] (see LruPacking) and so is the result.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, LruScan scan,
                        const LruPacking* packing = nullptr);

  int64_t d_model;
  int64_t hidden;                      // H = 2·d_model complex channels
  torch::Tensor params_log;            // [3, H]
  LruComplexLinear in_proj{nullptr};   // D → H
  LruComplexLinear out_proj{nullptr};  // H → D
  double dropout;                      // on Re(out_proj(h)), before the residual (lru_dropout)
  torch::nn::LayerNorm layer_norm{nullptr};
};
TORCH_MODULE(LruLayer);

}  // namespace llamarec
