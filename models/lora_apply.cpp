#include "models/lora_apply.h"

#include <set>

#include "core/error.h"

namespace llamarec {

namespace {

std::string last_component(const std::string& path) { return path.substr(path.rfind('.') + 1); }

}  // namespace

int64_t apply_lora(LlamaForCausalLMImpl& model, const LoraConfig& config, torch::Dtype dtype) {
  validate_lora_config(config);
  const std::set<std::string> targets(config.target_modules.begin(), config.target_modules.end());
  for (auto& param : model.parameters()) param.set_requires_grad(false);
  int64_t adapted = 0;
  for (auto& [path, linear] : model.linear_layers()) {
    if (!targets.count(last_component(path))) continue;
    if (linear->has_lora()) fail("LoRA: {} already has an adapter", path);
    linear->enable_lora(config.r, config.alpha, config.dropout, dtype);
    ++adapted;
  }
  return adapted;
}

std::map<std::string, torch::Tensor> lora_tensors(const LlamaForCausalLMImpl& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [path, linear] : model.linear_layers()) {
    if (!linear->has_lora()) continue;
    out[path + ".lora_A.weight"] = linear->lora_A->weight;
    out[path + ".lora_B.weight"] = linear->lora_B->weight;
  }
  return out;
}

std::vector<torch::Tensor> lora_parameters(const LlamaForCausalLMImpl& model) {
  std::vector<torch::Tensor> out;
  for (const auto& [path, linear] : model.linear_layers()) {
    if (!linear->has_lora()) continue;
    out.push_back(linear->lora_A->weight);
    out.push_back(linear->lora_B->weight);
  }
  return out;
}

void merge_lora(LlamaForCausalLMImpl& model) {
  for (auto& [path, linear] : model.linear_layers()) {
    if (linear->has_lora()) linear->merge();
  }
}

void unmerge_lora(LlamaForCausalLMImpl& model) {
  for (auto& [path, linear] : model.linear_layers()) {
    if (linear->has_lora()) linear->unmerge();
  }
}

}  // namespace llamarec
