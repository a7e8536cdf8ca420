// Llama's SwiGLU feed-forward block: down(silu(gate(x)) * up(x)).
#pragma once
#include <torch/torch.h>

#include "models/lora_linear.h"

namespace llamarec {

struct MlpWeights {
  LinearWeights gate_proj, up_proj, down_proj;
};

torch::Tensor mlp_forward(const MlpWeights& weights, const torch::Tensor& x, bool training);  // [..., D]

class LlamaMlpImpl : public torch::nn::Module {
 public:
  LlamaMlpImpl(int64_t hidden, int64_t intermediate, torch::TensorOptions options = {});
  MlpWeights weights() const;
  LoraLinear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(LlamaMlp);

}  // namespace llamarec
