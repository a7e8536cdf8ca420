// Hugging Face LlamaForCausalLM in LibTorch: token embedding, decoder layers, final RMSNorm and an
// lm_head (the embedding when tie_word_embeddings). Parameter names are HF's, so checkpoints load by
// name. Logits can be computed at chosen rows only (forward_hidden + lm_head_at): the ranker never
// materialises [B, L, V].
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "core/safetensors.h"
#include "models/llama_config.h"
#include "models/llama_decoder_layer.h"
#include "models/llama_kv_cache.h"
#include "models/llama_rope.h"

namespace llamarec {

// A module holding the token embedding as "weight" (HF's model.embed_tokens.weight).
class TokenEmbeddingImpl : public torch::nn::Module {
 public:
  TokenEmbeddingImpl(int64_t vocab, int64_t dim, torch::TensorOptions options = {});
  torch::Tensor forward(const torch::Tensor& ids);  // [B, L] -> [B, L, D]
  torch::Tensor weight;                             // [V, D]
};
TORCH_MODULE(TokenEmbedding);

// HF's LlamaModel: the part named "model." in checkpoints.
class LlamaModelImpl : public torch::nn::Module {
 public:
  LlamaModelImpl(const LlamaConfig& config, torch::TensorOptions options = {});
  TokenEmbedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};  // of LlamaDecoderLayer
  RMSNorm norm{nullptr};
  LlamaDecoderLayer layer(int64_t index) const;
};
TORCH_MODULE(LlamaModel);

// The per-forward context every layer shares: RoPE tables for the new tokens' positions and the
// attention bias (undefined, i.e. plain causal, when there is neither padding nor a cache).
// position_ids [B, L] override `mode` when defined.
LayerContext make_layer_context(const LlamaConfig& config, const torch::Tensor& attention_mask,
                                const torch::Tensor& position_ids, PositionMode mode, int64_t batch, int64_t past,
                                int64_t length, torch::Dtype dtype, torch::Device device, KVCache* cache,
                                bool training);

class LlamaForCausalLMImpl : public torch::nn::Module {
 public:
  // Parameters are allocated uninitialised (RMSNorm weights aside): load a checkpoint
  // (load_llama / load_llama_weights) or call init_llama_random.
  LlamaForCausalLMImpl(const LlamaConfig& config, torch::TensorOptions options = {});

  const LlamaConfig& config() const { return config_; }

  // Final-normed hidden states [B, L, D] of input_ids [B, L].
  //   attention_mask: [B, past + L] of 0/1 (left padding), or undefined for none.
  //   cache: appended to (and read) when given; past = cache->length().
  //   mode / position_ids: where positions come from (see PositionMode).
  torch::Tensor forward_hidden(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                               KVCache* cache = nullptr, PositionMode mode = PositionMode::kFromMask,
                               const torch::Tensor& position_ids = {});
  // Logits of chosen hidden rows: [..., D] -> [..., V] (model dtype).
  torch::Tensor lm_head_at(const torch::Tensor& hidden);
  // Logits at every position, [B, L, V]: for tests and generation, not for training a ranker.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                        KVCache* cache = nullptr, PositionMode mode = PositionMode::kFromMask);

  // [V, D]: lm_head.weight, or the embedding when tied (the verbalizer takes rows of it).
  torch::Tensor lm_head_weight() const;
  // Every decoder-layer projection with its module path ("model.layers.3.self_attn.q_proj"), the
  // places where LoRA can be attached.
  std::vector<std::pair<std::string, LoraLinear>> linear_layers() const;

  LlamaModel model{nullptr};
  LoraLinear lm_head{nullptr};  // absent when tied

 private:
  LlamaConfig config_;
};
TORCH_MODULE(LlamaForCausalLM);

// Reads <dir>/config.json and the safetensors checkpoint (single or sharded) into a new model in
// `dtype` on `device`. The checkpoint must hold exactly the model's tensors (stale
// rotary_emb.inv_freq buffers are ignored).
LlamaForCausalLM load_llama(const std::string& model_dir, torch::Dtype dtype = torch::kFloat32,
                            torch::Device device = torch::kCPU);
// Validates `checkpoint` against the model's tensor list, then copies every base tensor in.
void load_llama_weights(LlamaForCausalLMImpl& model, const SafetensorsCheckpoint& checkpoint);
// Writes `model`'s base weights (no LoRA tensors) as a Hugging Face checkpoint: <dir>/config.json
// and <dir>/model.safetensors in the model's dtype, each file atomically.
void save_llama(const LlamaForCausalLMImpl& model, const std::string& model_dir);
// HF's initialisation: linear and embedding weights ~ N(0, std), norms = 1. Deterministic in `seed`.
void init_llama_random(LlamaForCausalLMImpl& model, uint64_t seed, double std = 0.02);

}  // namespace llamarec
