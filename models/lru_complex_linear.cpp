#include "models/lru_complex_linear.h"

#include <cmath>

namespace llamarec {

LruComplexLinearImpl::LruComplexLinearImpl(int64_t in_features, int64_t out_features)
    : in_features(in_features), out_features(out_features) {
  // nn.Linear's default: kaiming_uniform(a=√5) for the weight and U(±1/√in) for the bias, both
  // of which reduce to U(-1/√in, 1/√in).
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight_real = register_parameter("weight_real", torch::empty({out_features, in_features}).uniform_(-bound, bound));
  weight_imag = register_parameter("weight_imag", torch::zeros({out_features, in_features}));
  bias_real = register_parameter("bias_real", torch::empty({out_features}).uniform_(-bound, bound));
  bias_imag = register_parameter("bias_imag", torch::zeros({out_features}));
}

torch::Tensor LruComplexLinearImpl::packed_weight() const { return torch::cat({weight_real, weight_imag}, 0); }

torch::Tensor LruComplexLinearImpl::packed_bias() const { return torch::cat({bias_real, bias_imag}, 0); }

torch::Tensor LruComplexLinearImpl::real_part_forward(const torch::Tensor& h) const {
  // Re((Wr + i·Wi)(hr + i·hi) + br + i·bi) = Wr·hr − Wi·hi + br; bias_imag never reaches the output
  // (in the reference its gradient is identically zero).
  return torch::linear(h, torch::cat({weight_real, -weight_imag}, 1), bias_real);
}

}  // namespace llamarec
