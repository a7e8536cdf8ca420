// Inverted dropout for the LRURec blocks: y = x ⊙ m / (1 − p), m_i ~ Bernoulli(1 − p) i.i.d.
//
// Why not torch::dropout: on CPU it draws the mask with bernoulli_, which without MKL (Debian's
// LibTorch) is a serial mt19937 loop, ~10 ns per element, about 1/8 of an LRURec training step at
// the reference settings. Here the mask is a counter-based hash of (seed, element index), which
// vectorises, and the backward regenerates it from the seed instead of storing it. The 64-bit seed
// of each call comes from LibTorch's default CPU generator, so torch::manual_seed reproduces runs.
// Non-CPU tensors, other dtypes and tensors of 2^32 or more elements use torch::dropout.
#pragma once
#include <torch/torch.h>

namespace llamarec {

torch::Tensor lru_dropout(const torch::Tensor& x, double p, bool training);

}  // namespace llamarec
