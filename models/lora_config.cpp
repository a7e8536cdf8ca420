#include "models/lora_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "core/error.h"

namespace llamarec {

const std::vector<std::string>& llama_projection_names() {
  static const std::vector<std::string> names = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"};
  return names;
}

std::string llama_projection_path(int64_t layer, const std::string& projection) {
  const auto& names = llama_projection_names();
  const auto it = std::find(names.begin(), names.end(), projection);
  if (it == names.end()) fail("LoRA: no Llama projection named '{}'", projection);
  const bool attention = it - names.begin() < 4;
  return "model.layers." + std::to_string(layer) + (attention ? ".self_attn." : ".mlp.") + projection;
}

void validate_lora_config(const LoraConfig& config, const std::string& where) {
  const auto& names = llama_projection_names();
  if (config.target_modules.empty()) fail("{}: lora.target_modules is empty (name at least one projection)", where);
  for (const auto& target : config.target_modules) {
    if (std::find(names.begin(), names.end(), target) == names.end())
      fail("{}: lora.target_modules: unknown module '{}' (Llama has {})", where, target, fmt::join(names, ", "));
  }
  if (config.r <= 0) fail("{}: lora.r must be positive, got {}", where, config.r);
  if (config.alpha <= 0) fail("{}: lora.alpha must be positive, got {}", where, config.alpha);
  if (config.dropout < 0 || config.dropout >= 1)
    fail("{}: lora.dropout must be in [0, 1), got {}", where, config.dropout);
}

}  // namespace llamarec
