#include "models/llama_mlp.h"

namespace llamarec {

torch::Tensor mlp_forward(const MlpWeights& w, const torch::Tensor& x, bool training) {
  const auto gate = torch::silu(linear_forward(w.gate_proj, x, training));  // [..., F]
  return linear_forward(w.down_proj, gate * linear_forward(w.up_proj, x, training), training);
}

LlamaMlpImpl::LlamaMlpImpl(int64_t hidden, int64_t intermediate, torch::TensorOptions options) {
  gate_proj = register_module("gate_proj", LoraLinear(hidden, intermediate, options));
  up_proj = register_module("up_proj", LoraLinear(hidden, intermediate, options));
  down_proj = register_module("down_proj", LoraLinear(intermediate, hidden, options));
}

MlpWeights LlamaMlpImpl::weights() const { return {gate_proj->weights(), up_proj->weights(), down_proj->weights()}; }

}  // namespace llamarec
