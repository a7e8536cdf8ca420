// LoRA adapters in Hugging Face PEFT's on-disk format, so that a Python user can load what we train
// (PeftModel.from_pretrained) and we can load theirs: <dir>/adapter_model.safetensors with tensors
// "base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight" [r, in] / "...lora_B.weight"
// [out, r], and <dir>/adapter_config.json (peft_type LORA, task_type CAUSAL_LM, r, lora_alpha, ...).
#pragma once
#include <string>

#include "models/lora_apply.h"
#include "models/llama_model.h"

namespace llamarec {

// Writes the model's adapters (both files atomically). The config (targets, r, alpha, dropout) is
// read off the adapted layers, which must all share r, alpha and dropout.
void save_peft_adapter(const std::string& dir, const LlamaForCausalLMImpl& model,
                       const std::string& base_model_name_or_path);

// The same from adapter tensors held elsewhere (a sharded model): `tensors` by module path without
// PEFT's prefix ("model.layers.N.self_attn.q_proj.lora_A.weight").
void save_peft_adapter_tensors(const std::string& dir, const std::map<std::string, torch::Tensor>& tensors,
                               const LoraConfig& config, const std::string& base_model_name_or_path);
// Copies the saved adapter weights into `tensors` (same naming), which must match the file exactly
// in names and shapes.
void load_peft_adapter_tensors(const std::string& dir, std::map<std::string, torch::Tensor>& tensors);

// Reads and validates <dir>/adapter_config.json; PEFT features we do not implement (bias other
// than "none", fan_in_fan_out, rsLoRA, DoRA, rank/alpha patterns, layer subsets, regex targets,
// modules_to_save) are errors naming the file and key.
LoraConfig load_peft_config(const std::string& dir);

// Attaches adapters as the saved config says (if the model has none yet; otherwise they must match
// it), then loads their weights. Missing, unexpected or wrongly shaped tensors are errors.
LoraConfig load_peft_adapter(const std::string& dir, LlamaForCausalLMImpl& model);

}  // namespace llamarec
