// One Llama decoder layer: h + attn(norm(h)), then h + mlp(norm(h)). The computation is a pure
// function of a LayerWeights struct, so an FSDP unit can run it on weights it gathered itself (with
// the module's LoRA tensors); the module only holds the parameters.
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "models/llama_attention.h"
#include "models/llama_config.h"
#include "models/llama_mlp.h"
#include "models/llama_rmsnorm.h"

namespace llamarec {

struct LayerWeights {
  torch::Tensor input_layernorm;  // [D]
  AttentionWeights self_attn;
  torch::Tensor post_attention_layernorm;  // [D]
  MlpWeights mlp;

  // The base (frozen) tensors as (name, slot) in llama_layer_tensor_specs order, for filling the
  // struct from a flat buffer or a checkpoint; LoRA tensors are not included.
  std::vector<std::pair<std::string, torch::Tensor*>> base_tensors();
  // The projection named by its last module-path component ("q_proj", ..., "down_proj"); nullptr
  // for other names.
  LinearWeights* linear(const std::string& module);
};

// hidden [B, L, D] -> [B, L, D]
torch::Tensor decoder_layer_forward(const LayerWeights& weights, const torch::Tensor& hidden,
                                    const LayerContext& context);

class LlamaDecoderLayerImpl : public torch::nn::Module {
 public:
  LlamaDecoderLayerImpl(const LlamaConfig& config, torch::TensorOptions options = {});
  LayerWeights weights() const;
  torch::Tensor forward(const torch::Tensor& hidden, const LayerContext& context);

  RMSNorm input_layernorm{nullptr};
  LlamaAttention self_attn{nullptr};
  RMSNorm post_attention_layernorm{nullptr};
  LlamaMlp mlp{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

}  // namespace llamarec
