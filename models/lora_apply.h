// Attaching LoRA adapters to a Llama model by module name, as PEFT's LoraConfig does: every
// decoder-layer projection whose last name component is in target_modules gets an adapter, and
// every base parameter is frozen.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "models/llama_model.h"
#include "models/lora_config.h"

namespace llamarec {

// Freezes the base model and adds adapters (parameters in `dtype`, on the model's device). Returns
// the number of adapted layers. Unknown target names (not one of q_proj, k_proj, v_proj, o_proj,
// gate_proj, up_proj, down_proj) and layers that already carry an adapter are errors.
int64_t apply_lora(LlamaForCausalLMImpl& model, const LoraConfig& config, torch::Dtype dtype = torch::kFloat32);

// The adapter tensors by module path: "model.layers.N.self_attn.q_proj.lora_A.weight" -> [r, in].
std::map<std::string, torch::Tensor> lora_tensors(const LlamaForCausalLMImpl& model);
// The trainable adapter parameters, in a fixed order (for the optimizer and gradient all-reduce).
std::vector<torch::Tensor> lora_parameters(const LlamaForCausalLMImpl& model);

// W += scaling·B·A in every adapted layer (inference); unmerge undoes it.
void merge_lora(LlamaForCausalLMImpl& model);
void unmerge_lora(LlamaForCausalLMImpl& model);

}  // namespace llamarec
