#include "models/lora_linear.h"

#include <ATen/CPUGeneratorImpl.h>
#include <cmath>

#include "core/error.h"

namespace llamarec {

torch::Tensor linear_forward(const LinearWeights& w, const torch::Tensor& x, bool training) {
  auto out = torch::linear(x, w.weight);
  if (!w.lora_a.defined()) return out;
  auto h = x.to(w.lora_a.scalar_type());
  if (training && w.lora_dropout > 0) h = torch::dropout(h, w.lora_dropout, /*train=*/true);
  auto delta = torch::linear(torch::linear(h, w.lora_a), w.lora_b) * w.lora_scaling;
  return out + delta.to(out.scalar_type());
}

LoraWeights init_lora_weights(int64_t out_features, int64_t in_features, int64_t r, at::Generator generator,
                              torch::Device device) {
  torch::NoGradGuard no_grad;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  auto a = torch::empty({r, in_features}, f32).uniform_(-bound, bound, generator).to(device);
  auto b = torch::zeros({out_features, r}, f32.device(device));
  return {a, b};
}

LoraLinearImpl::LoraLinearImpl(int64_t in_features, int64_t out_features, torch::TensorOptions options)
    : in_features_(in_features), out_features_(out_features) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}, options));
}

void LoraLinearImpl::enable_lora(int64_t r, double alpha, double dropout, torch::Dtype dtype,
                                 c10::optional<at::Generator> generator) {
  if (has_lora()) fail("LoRA adapter already present on a {}x{} linear layer", out_features_, in_features_);
  if (r <= 0) fail("LoRA rank must be positive, got {}", r);
  if (dropout < 0 || dropout >= 1) fail("LoRA dropout must be in [0, 1), got {}", dropout);
  lora_A = register_module("lora_A", torch::nn::Linear(torch::nn::LinearOptions(in_features_, r).bias(false)));
  lora_B = register_module("lora_B", torch::nn::Linear(torch::nn::LinearOptions(r, out_features_).bias(false)));
  lora_A->to(weight.device(), dtype);
  lora_B->to(weight.device(), dtype);
  {
    torch::NoGradGuard no_grad;
    const auto init = init_lora_weights(out_features_, in_features_, r,
                                        generator ? *generator : at::detail::getDefaultCPUGenerator());
    lora_A->weight.copy_(init.a);
    lora_B->weight.copy_(init.b);
  }
  rank_ = r;
  alpha_ = alpha;
  dropout_ = dropout;
  merged_ = false;
}

void LoraLinearImpl::merge() {
  if (!has_lora()) fail("merge: the linear layer has no LoRA adapter");
  if (merged_) return;
  torch::NoGradGuard no_grad;
  const auto delta = torch::matmul(lora_B->weight, lora_A->weight) * (alpha_ / rank_);  // [out, in]
  weight.add_(delta.to(weight.scalar_type()));
  merged_ = true;
}

void LoraLinearImpl::unmerge() {
  if (!merged_) return;
  torch::NoGradGuard no_grad;
  const auto delta = torch::matmul(lora_B->weight, lora_A->weight) * (alpha_ / rank_);
  weight.sub_(delta.to(weight.scalar_type()));
  merged_ = false;
}

LinearWeights LoraLinearImpl::weights() const {
  LinearWeights w;
  w.weight = weight;
  if (has_lora() && !merged_) {
    w.lora_a = lora_A->weight;
    w.lora_b = lora_B->weight;
    w.lora_scaling = alpha_ / rank_;
    w.lora_dropout = dropout_;
  }
  return w;
}

torch::Tensor LoraLinearImpl::forward(const torch::Tensor& x) { return linear_forward(weights(), x, is_training()); }

}  // namespace llamarec
