// Llama architecture hyperparameters, read from a Hugging Face config.json (LlamaConfig), and the
// names and shapes of the tensors such a model holds (HF naming). The shape list is computed from
// the config alone, so a 7B model can be sized and a checkpoint validated without allocating it.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/safetensors.h"

namespace llamarec {

struct LlamaConfig {
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;  // < num_attention_heads: grouped-query attention
  int64_t max_position_embeddings = 4096;
  double rms_norm_eps = 1e-6;  // HF's LlamaConfig default; Llama 2 checkpoints say 1e-5
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

// Parses a HF LlamaConfig (absent keys take HF's defaults; num_key_value_heads defaults to
// num_attention_heads). Unsupported variants (rope_scaling, attention/MLP biases, an activation
// other than silu) and inconsistent sizes are errors naming `where`.
LlamaConfig llama_config_from_json(const nlohmann::json& json, const std::string& where);
// `path`: a config.json or a model directory holding one.
LlamaConfig load_llama_config(const std::string& path);
// The HF config.json of `config` (architectures LlamaForCausalLM, model_type llama).
nlohmann::json llama_config_to_json(const LlamaConfig& config);

// Tensors of one decoder layer, names relative to the layer ("self_attn.q_proj.weight", ...), in
// the fixed order used for flat per-layer buffers.
std::vector<TensorSpec> llama_layer_tensor_specs(const LlamaConfig& config);
// Every tensor of LlamaForCausalLM with its HF name: model.embed_tokens.weight,
// model.layers.N.<layer tensors>, model.norm.weight, and lm_head.weight unless tied.
std::vector<TensorSpec> llama_tensor_specs(const LlamaConfig& config);
int64_t llama_parameter_count(const LlamaConfig& config);

}  // namespace llamarec
