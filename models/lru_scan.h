// The linear recurrence of the LRU layer, evaluated two ways.
//
// Complex numbers live on real pairs (no complex dtype): the last dimension of `h` holds
// [real | imag] halves, i.e. 2H values for H complex channels, and `lambda` is [2H] =
// [Re λ | Im λ]. For every batch row b, time t and channel k both scans return
//
//   h_t = m_{t-1} · λ ⊙ h_{t-1} + h~_t,      m_{-1} = 0,
//
// where m = mask (true = real item). With padding as a left prefix (the model's only case) this is
// h_t = Σ_{s ≤ t, s real} λ^{t-s} h~_s at real positions and h~_t at padded ones: exactly what the
// reference's masked parallel scan returns, so padding never leaks into real positions.
#pragma once
#include <torch/torch.h>

namespace llamarec {

// The reference `lru_parallel` (docs/llamarec.md, "Retriever"): log2(L) passes of tensor ops, differentiated by
// autograd. h: [B, L, 2H] with L a power of two; lambda: [2H]; mask: [B, L] bool. Returns [B, L, 2H].
torch::Tensor lru_parallel_scan(const torch::Tensor& h, const torch::Tensor& lambda, const torch::Tensor& mask);

// The same recurrence as one custom autograd function: a sequential loop over time, vectorised
// over the channels and parallel over the batch, with a hand-written backward (a reverse scan with
// conj(λ)). CPU tensors, float32 or float64, any L. Same shapes as lru_parallel_scan. First-order
// gradients only (its backward is not itself differentiable).
torch::Tensor lru_fused_scan(const torch::Tensor& h, const torch::Tensor& lambda, const torch::Tensor& mask);

// The fused scan on a packed layout (models/lru_layer.h, LruPacking): the kept positions of B rows,
// row after row, h [T, 2H]; row b is [row_starts[b], row_starts[b + 1]) (row_starts [B + 1] int64,
// from 0 to T). Packed position j takes the state of j - 1 where j - 1 is in the same row and
// carry[j - 1] ([T] bool): the position holds an item and the next one of its row is kept. It is the
// dense scan read at the kept positions, without scattering them into [B, L] and gathering back.
torch::Tensor lru_fused_scan_packed(const torch::Tensor& h, const torch::Tensor& lambda, const torch::Tensor& carry,
                                    const torch::Tensor& row_starts);

}  // namespace llamarec
