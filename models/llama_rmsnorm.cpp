#include "models/llama_rmsnorm.h"

namespace llamarec {

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  const auto x32 = x.to(torch::kFloat32);
  const auto normed = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(x.scalar_type());
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps, torch::TensorOptions options) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}, options));
}

}  // namespace llamarec
