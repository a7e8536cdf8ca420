// Rotary position embeddings in HF's rotate-half layout (the q/k weights of HF checkpoints are
// permuted for it): x·cos + rotate_half(x)·sin with angles position · θ^(-2i/d).
#pragma once
#include <torch/torch.h>

namespace llamarec {

// Where the positions of a (left-padded) batch come from when none are given.
enum class PositionMode {
  kFromMask,  // cumsum(attention_mask) - 1: every row's first real token is position 0 (correct)
  kArange,    // 0, 1, 2, ... for every row, pads included: what HF 4.33 does when LlamaRec passes no
              // position_ids (docs/llamarec.md, "Ranker"), so left-padded rows start at position pad_len (fidelity)
};
// RoPE attention scores depend on relative positions only and pads are masked, so both modes give
// the same outputs up to rounding (which grows with the angles, most visibly in bf16).

// Positions of the `length` newest tokens. attention_mask: [B, past + length] of 0/1, or undefined
// (no padding). Returns [B, length] int64.
torch::Tensor position_ids_for(PositionMode mode, const torch::Tensor& attention_mask, int64_t batch, int64_t past,
                               int64_t length, torch::Device device);

struct RotaryTables {
  torch::Tensor cos;  // [B, 1, L, Dh]
  torch::Tensor sin;  // [B, 1, L, Dh]
};

// Angles computed in float32 (as HF caches them), returned in `dtype`.
RotaryTables rotary_tables(const torch::Tensor& position_ids, int64_t head_dim, double theta, torch::Dtype dtype);

// x: [B, H, L, Dh]
torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& tables);

}  // namespace llamarec
