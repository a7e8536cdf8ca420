#include "models/llama_decoder_layer.h"

#include "core/profile_scope.h"

namespace llamarec {

std::vector<std::pair<std::string, torch::Tensor*>> LayerWeights::base_tensors() {
  return {
      {"input_layernorm.weight", &input_layernorm},
      {"self_attn.q_proj.weight", &self_attn.q_proj.weight},
      {"self_attn.k_proj.weight", &self_attn.k_proj.weight},
      {"self_attn.v_proj.weight", &self_attn.v_proj.weight},
      {"self_attn.o_proj.weight", &self_attn.o_proj.weight},
      {"post_attention_layernorm.weight", &post_attention_layernorm},
      {"mlp.gate_proj.weight", &mlp.gate_proj.weight},
      {"mlp.up_proj.weight", &mlp.up_proj.weight},
      {"mlp.down_proj.weight", &mlp.down_proj.weight},
  };
}

LinearWeights* LayerWeights::linear(const std::string& module) {
  if (module == "q_proj") return &self_attn.q_proj;
  if (module == "k_proj") return &self_attn.k_proj;
  if (module == "v_proj") return &self_attn.v_proj;
  if (module == "o_proj") return &self_attn.o_proj;
  if (module == "gate_proj") return &mlp.gate_proj;
  if (module == "up_proj") return &mlp.up_proj;
  if (module == "down_proj") return &mlp.down_proj;
  return nullptr;
}

torch::Tensor decoder_layer_forward(const LayerWeights& w, const torch::Tensor& hidden, const LayerContext& ctx) {
  const auto norm = [&](const torch::Tensor& x, const torch::Tensor& weight) {
    const ProfileScope profile("llama.norm");
    return rms_norm(x, weight, ctx.rms_norm_eps);
  };
  auto h = hidden + self_attention_forward(w.self_attn, norm(hidden, w.input_layernorm), ctx);
  const auto normed = norm(h, w.post_attention_layernorm);
  const ProfileScope profile("llama.mlp");
  return h + mlp_forward(w.mlp, normed, ctx.training);
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const LlamaConfig& c, torch::TensorOptions options) {
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
  self_attn = register_module("self_attn",
                              LlamaAttention(c.hidden_size, c.num_attention_heads, c.num_key_value_heads, options));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
  mlp = register_module("mlp", LlamaMlp(c.hidden_size, c.intermediate_size, options));
}

LayerWeights LlamaDecoderLayerImpl::weights() const {
  return {input_layernorm->weight, self_attn->weights(), post_attention_layernorm->weight, mlp->weights()};
}

torch::Tensor LlamaDecoderLayerImpl::forward(const torch::Tensor& hidden, const LayerContext& context) {
  return decoder_layer_forward(weights(), hidden, context);
}

}  // namespace llamarec
