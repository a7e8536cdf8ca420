// A complex linear layer on real parameters. The reference builds nn.Linear(...).to(torch.cfloat);
// here its complex64 `weight` [out, in] is weight_real + i·weight_imag and its `bias` [out] is
// bias_real + i·bias_imag, so checkpoints map one-to-one (…in_proj.weight ↔ …in_proj.weight_real/_imag).
#pragma once
#include <torch/torch.h>

namespace llamarec {

class LruComplexLinearImpl : public torch::nn::Module {
 public:
  // Initialised like the reference before its truncated-normal pass: the real parts as nn.Linear,
  // the imaginary parts zero (what casting a real nn.Linear to complex gives).
  LruComplexLinearImpl(int64_t in_features, int64_t out_features);

  // For a real input: [Re W; Im W] as one [2·out, in] matrix and [Re b | Im b] as [2·out], so
  // that torch::linear(x, packed_weight(), packed_bias()) gives the complex output as [real | imag].
  torch::Tensor packed_weight() const;
  torch::Tensor packed_bias() const;

  // Re(W h + b) for a complex input given as [.., 2·in] = [real | imag] halves: [.., out].
  torch::Tensor real_part_forward(const torch::Tensor& h) const;

  int64_t in_features;
  int64_t out_features;
  torch::Tensor weight_real;  // [out, in]
  torch::Tensor weight_imag;  // [out, in]
  torch::Tensor bias_real;    // [out]
  torch::Tensor bias_imag;    // [out]
};
TORCH_MODULE(LruComplexLinear);

}  // namespace llamarec
