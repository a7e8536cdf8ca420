#include "models/llama_model.h"

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"

namespace llamarec {

TokenEmbeddingImpl::TokenEmbeddingImpl(int64_t vocab, int64_t dim, torch::TensorOptions options) {
  weight = register_parameter("weight", torch::empty({vocab, dim}, options));
}

torch::Tensor TokenEmbeddingImpl::forward(const torch::Tensor& ids) { return torch::embedding(weight, ids); }

LlamaModelImpl::LlamaModelImpl(const LlamaConfig& c, torch::TensorOptions options) {
  embed_tokens = register_module("embed_tokens", TokenEmbedding(c.vocab_size, c.hidden_size, options));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(LlamaDecoderLayer(c, options));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
}

LlamaDecoderLayer LlamaModelImpl::layer(int64_t index) const {
  return LlamaDecoderLayer(layers->ptr<LlamaDecoderLayerImpl>(index));
}

LayerContext make_layer_context(const LlamaConfig& c, const torch::Tensor& attention_mask,
                                const torch::Tensor& position_ids, PositionMode mode, int64_t batch, int64_t past,
                                int64_t length, torch::Dtype dtype, torch::Device device, KVCache* cache,
                                bool training) {
  LayerContext ctx;
  ctx.num_heads = c.num_attention_heads;
  ctx.num_kv_heads = c.num_key_value_heads;
  ctx.head_dim = c.head_dim();
  ctx.rms_norm_eps = c.rms_norm_eps;
  ctx.cache = cache;
  ctx.training = training;
  auto positions = position_ids.defined() ? position_ids.to(device)
                                          : position_ids_for(mode, attention_mask, batch, past, length, device);
  if (positions.dim() != 2 || positions.size(0) != batch || positions.size(1) != length)
    fail("position_ids have shape [{}], expected [{}, {}]", fmt::join(positions.sizes(), "x"), batch, length);
  ctx.rope = rotary_tables(positions, c.head_dim(), c.rope_theta, dtype);
  ctx.causal = true;
  if (attention_mask.defined() || past > 0)
    ctx.bias = attention_bias(attention_mask, batch, past, length, dtype, device);
  return ctx;
}

LlamaForCausalLMImpl::LlamaForCausalLMImpl(const LlamaConfig& config, torch::TensorOptions options) : config_(config) {
  model = register_module("model", LlamaModel(config, options));
  if (!config.tie_word_embeddings)
    lm_head = register_module("lm_head", LoraLinear(config.hidden_size, config.vocab_size, options));
}

torch::Tensor LlamaForCausalLMImpl::forward_hidden(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                                   KVCache* cache, PositionMode mode,
                                                   const torch::Tensor& position_ids) {
  if (input_ids.dim() != 2) fail("input_ids must be [batch, length], got [{}]", fmt::join(input_ids.sizes(), "x"));
  const int64_t batch = input_ids.size(0), length = input_ids.size(1);
  const int64_t past = cache != nullptr ? cache->length() : 0;
  const auto& embed = model->embed_tokens->weight;
  auto hidden = model->embed_tokens(input_ids.to(embed.device()));  // [B, L, D]
  auto ctx = make_layer_context(config_, attention_mask, position_ids, mode, batch, past, length, embed.scalar_type(),
                                embed.device(), cache, is_training());
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    ctx.layer_index = i;
    hidden = model->layer(i)->forward(hidden, ctx);
  }
  return model->norm(hidden);
}

torch::Tensor LlamaForCausalLMImpl::lm_head_at(const torch::Tensor& hidden) {
  return torch::linear(hidden, lm_head_weight());
}

torch::Tensor LlamaForCausalLMImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                            KVCache* cache, PositionMode mode) {
  return lm_head_at(forward_hidden(input_ids, attention_mask, cache, mode));
}

torch::Tensor LlamaForCausalLMImpl::lm_head_weight() const {
  return config_.tie_word_embeddings ? model->embed_tokens->weight : lm_head->weight;
}

std::vector<std::pair<std::string, LoraLinear>> LlamaForCausalLMImpl::linear_layers() const {
  std::vector<std::pair<std::string, LoraLinear>> out;
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const auto layer = model->layer(i);
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    const auto& attn = layer->self_attn;
    const auto& mlp = layer->mlp;
    out.emplace_back(prefix + "self_attn.q_proj", attn->q_proj);
    out.emplace_back(prefix + "self_attn.k_proj", attn->k_proj);
    out.emplace_back(prefix + "self_attn.v_proj", attn->v_proj);
    out.emplace_back(prefix + "self_attn.o_proj", attn->o_proj);
    out.emplace_back(prefix + "mlp.gate_proj", mlp->gate_proj);
    out.emplace_back(prefix + "mlp.up_proj", mlp->up_proj);
    out.emplace_back(prefix + "mlp.down_proj", mlp->down_proj);
  }
  return out;
}

void load_llama_weights(LlamaForCausalLMImpl& model, const SafetensorsCheckpoint& checkpoint) {
  validate_checkpoint(checkpoint, llama_tensor_specs(model.config()), [](const std::string& name) {
    // Older conversions saved RoPE's inverse frequencies; they are recomputed from rope_theta.
    return name.size() >= 20 && name.compare(name.size() - 20, 20, "rotary_emb.inv_freq") == 0;
  });
  torch::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    if (item.key().find(".lora_") != std::string::npos) continue;
    auto& param = item.value();
    param.copy_(checkpoint.load(item.key(), param.scalar_type()));
  }
}

LlamaForCausalLM load_llama(const std::string& model_dir, torch::Dtype dtype, torch::Device device) {
  const auto config = load_llama_config(model_dir);
  LlamaForCausalLM model(config, torch::TensorOptions().dtype(dtype).device(device));
  SafetensorsCheckpoint checkpoint(model_dir);
  load_llama_weights(*model, checkpoint);
  spdlog::info("loaded Llama from {}: {} layers, hidden {}, vocab {}, {:.1f}M parameters, {}", model_dir,
               config.num_hidden_layers, config.hidden_size, config.vocab_size, llama_parameter_count(config) / 1e6,
               c10::toString(dtype));
  return model;
}

void save_llama(const LlamaForCausalLMImpl& model, const std::string& model_dir) {
  std::filesystem::create_directories(model_dir);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& item : model.named_parameters()) {
    if (item.key().find(".lora_") == std::string::npos) tensors[item.key()] = item.value().detach();
  }
  save_safetensors((std::filesystem::path(model_dir) / "model.safetensors").string(), tensors);
  write_file_atomic((std::filesystem::path(model_dir) / "config.json").string(),
                    llama_config_to_json(model.config()).dump(2) + "\n");
}

void init_llama_random(LlamaForCausalLMImpl& model, uint64_t seed, double std) {
  torch::NoGradGuard no_grad;
  auto generator = at::detail::createCPUGenerator(seed);
  for (auto& item : model.named_parameters()) {
    const auto& name = item.key();
    if (name.find(".lora_") != std::string::npos) continue;
    auto& param = item.value();
    if (name.size() >= 11 && name.compare(name.size() - 11, 11, "norm.weight") == 0) {
      param.fill_(1.0);
    } else {
      // Drawn on the CPU in float32 so that every device and dtype gets the same values.
      param.copy_(at::normal(0.0, std, param.sizes(), generator, torch::TensorOptions().dtype(torch::kFloat32)));
    }
  }
}

}  // namespace llamarec
