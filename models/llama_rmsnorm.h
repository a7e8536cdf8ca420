// Llama's RMSNorm: x / sqrt(mean(x²) + eps) · weight, normalised in float32 and cast back before the
// weight is applied, as HF's LlamaRMSNorm does (this order matters in bf16).
#pragma once
#include <torch/torch.h>

namespace llamarec {

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);  // [..., D]

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, torch::TensorOptions options = {});
  torch::Tensor forward(const torch::Tensor& x) { return rms_norm(x, weight, eps_); }
  double eps() const { return eps_; }
  torch::Tensor weight;  // [D], initialised to ones

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

}  // namespace llamarec
