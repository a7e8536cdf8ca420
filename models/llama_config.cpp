#include "models/llama_config.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/json_value.h"

namespace llamarec {

namespace {

template <class T>
void read(const nlohmann::json& json, const std::string& where, const char* key, T& out) {
  out = json_field_or(json, key, out, where);
}

void require_positive(const std::string& where, const char* key, int64_t value) {
  if (value <= 0) fail("{}: {} must be positive, got {}", where, key, value);
}

}  // namespace

LlamaConfig llama_config_from_json(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) fail("{}: not a JSON object", where);
  if (json.contains("model_type") && json["model_type"] != "llama")
    fail("{}: model_type is {}, only \"llama\" is supported", where, json["model_type"].dump());
  LlamaConfig c;
  read(json, where, "vocab_size", c.vocab_size);
  read(json, where, "hidden_size", c.hidden_size);
  read(json, where, "intermediate_size", c.intermediate_size);
  read(json, where, "num_hidden_layers", c.num_hidden_layers);
  read(json, where, "num_attention_heads", c.num_attention_heads);
  c.num_key_value_heads = c.num_attention_heads;
  read(json, where, "num_key_value_heads", c.num_key_value_heads);
  read(json, where, "max_position_embeddings", c.max_position_embeddings);
  read(json, where, "rms_norm_eps", c.rms_norm_eps);
  read(json, where, "rope_theta", c.rope_theta);
  // transformers 5 writes RoPE's settings as one object instead of rope_theta / rope_scaling.
  if (json.contains("rope_parameters") && !json["rope_parameters"].is_null()) {
    const auto& rope = json["rope_parameters"];
    const std::string rope_where = where + ": rope_parameters";
    if (!rope.is_object()) fail("{} must be an object, got {}", rope_where, rope.dump());
    std::string type = "default";
    read(rope, rope_where, "rope_type", type);
    if (type != "default") fail("{}: rope_type '{}' is not supported (only \"default\")", rope_where, type);
    read(rope, rope_where, "rope_theta", c.rope_theta);
  }
  read(json, where, "tie_word_embeddings", c.tie_word_embeddings);
  read(json, where, "bos_token_id", c.bos_token_id);
  read(json, where, "eos_token_id", c.eos_token_id);

  std::string act = "silu";
  read(json, where, "hidden_act", act);
  if (act != "silu") fail("{}: hidden_act '{}' is not supported (Llama uses silu)", where, act);
  if (json.contains("rope_scaling") && !json["rope_scaling"].is_null())
    fail("{}: rope_scaling {} is not supported", where, json["rope_scaling"].dump());
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    bool bias = false;
    read(json, where, key, bias);
    if (bias) fail("{}: {} = true is not supported (Llama has no linear biases)", where, key);
  }

  require_positive(where, "vocab_size", c.vocab_size);
  require_positive(where, "hidden_size", c.hidden_size);
  require_positive(where, "intermediate_size", c.intermediate_size);
  require_positive(where, "num_hidden_layers", c.num_hidden_layers);
  require_positive(where, "num_attention_heads", c.num_attention_heads);
  require_positive(where, "num_key_value_heads", c.num_key_value_heads);
  require_positive(where, "max_position_embeddings", c.max_position_embeddings);
  if (c.hidden_size % c.num_attention_heads != 0)
    fail("{}: hidden_size {} is not divisible by num_attention_heads {}", where, c.hidden_size, c.num_attention_heads);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    fail("{}: num_attention_heads {} is not divisible by num_key_value_heads {}", where, c.num_attention_heads,
         c.num_key_value_heads);
  if (c.head_dim() % 2 != 0) fail("{}: head dimension {} must be even for RoPE", where, c.head_dim());
  if (json.contains("head_dim") && !json["head_dim"].is_null() && json["head_dim"] != c.head_dim())
    fail("{}: head_dim {} differs from hidden_size / num_attention_heads = {}", where, json["head_dim"].dump(),
         c.head_dim());
  if (!(c.rms_norm_eps > 0)) fail("{}: rms_norm_eps must be positive, got {}", where, c.rms_norm_eps);
  if (!(c.rope_theta > 0)) fail("{}: rope_theta must be positive, got {}", where, c.rope_theta);
  return c;
}

LlamaConfig load_llama_config(const std::string& path) {
  std::filesystem::path file = path;
  if (std::filesystem::is_directory(file)) file /= "config.json";
  std::ifstream in(file);
  if (!in) fail("{}: cannot open model config", file.string());
  return llama_config_from_json(parse_json(file.string(), "", in), file.string());
}

nlohmann::json llama_config_to_json(const LlamaConfig& c) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", c.vocab_size},
          {"hidden_size", c.hidden_size},
          {"intermediate_size", c.intermediate_size},
          {"num_hidden_layers", c.num_hidden_layers},
          {"num_attention_heads", c.num_attention_heads},
          {"num_key_value_heads", c.num_key_value_heads},
          {"max_position_embeddings", c.max_position_embeddings},
          {"rms_norm_eps", c.rms_norm_eps},
          {"rope_theta", c.rope_theta},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", c.tie_word_embeddings},
          {"bos_token_id", c.bos_token_id},
          {"eos_token_id", c.eos_token_id}};
}

std::vector<TensorSpec> llama_layer_tensor_specs(const LlamaConfig& c) {
  const int64_t d = c.hidden_size, kv = c.num_key_value_heads * c.head_dim(), f = c.intermediate_size;
  return {
      {"input_layernorm.weight", {d}},      {"self_attn.q_proj.weight", {d, d}},
      {"self_attn.k_proj.weight", {kv, d}}, {"self_attn.v_proj.weight", {kv, d}},
      {"self_attn.o_proj.weight", {d, d}},  {"post_attention_layernorm.weight", {d}},
      {"mlp.gate_proj.weight", {f, d}},     {"mlp.up_proj.weight", {f, d}},
      {"mlp.down_proj.weight", {d, f}},
  };
}

std::vector<TensorSpec> llama_tensor_specs(const LlamaConfig& c) {
  std::vector<TensorSpec> out = {{"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}}};
  const auto layer = llama_layer_tensor_specs(c);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    for (const auto& spec : layer) out.push_back({"model.layers." + std::to_string(i) + "." + spec.name, spec.shape});
  }
  out.push_back({"model.norm.weight", {c.hidden_size}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}});
  return out;
}

int64_t llama_parameter_count(const LlamaConfig& config) {
  int64_t total = 0;
  for (const auto& spec : llama_tensor_specs(config)) {
    int64_t n = 1;
    for (auto d : spec.shape) n *= d;
    total += n;
  }
  return total;
}

}  // namespace llamarec
