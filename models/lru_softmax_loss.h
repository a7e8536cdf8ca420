// Full-softmax cross-entropy for the tied output layer, scores = h·Wᵀ + b, fused into one autograd
// function. Equal to cross_entropy(linear(h, W, b), targets), but the [N, V] scores only ever exist
// one row chunk at a time, in cache: each chunk's GEMM, softmax, (softmax − one-hot) and its two
// gradient GEMMs run back to back in the forward, and the backward only scales the gradients. No
// scores, log-probability, one-hot or bias-broadcast tensor of size N·V is allocated.
#pragma once
#include <torch/torch.h>

namespace llamarec {

// hidden: [N, D], weight: [V, D], bias: [V], targets: [N] int64 in [0, V). Returns the mean (mean =
// true) or the sum of −log softmax(h·Wᵀ + b)[target] over the N rows; 0 for N = 0. Gradients flow to
// hidden, weight and bias (first order only); they are made in the forward when grad mode is on and
// an input requires a gradient (three GEMMs instead of one: a loss only looked at belongs under
// torch::NoGradGuard).
torch::Tensor lru_softmax_cross_entropy(const torch::Tensor& hidden, const torch::Tensor& weight,
                                        const torch::Tensor& bias, const torch::Tensor& targets, bool mean);

}  // namespace llamarec
