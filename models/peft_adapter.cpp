#include "models/peft_adapter.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_value.h"
#include "core/safetensors.h"

namespace llamarec {

namespace {

constexpr const char* kWeightsFile = "adapter_model.safetensors";
constexpr const char* kConfigFile = "adapter_config.json";
// PEFT wraps the model twice: PeftModel.base_model (LoraModel) .model (LlamaForCausalLM).
constexpr const char* kPrefix = "base_model.model.";

std::string last_component(const std::string& path) { return path.substr(path.rfind('.') + 1); }

// The LoRA config the model's adapters embody.
LoraConfig config_of(const LlamaForCausalLMImpl& model) {
  LoraConfig config;
  config.target_modules.clear();
  std::set<std::string> targets;
  bool first = true;
  for (const auto& [path, linear] : model.linear_layers()) {
    if (!linear->has_lora()) continue;
    if (first) {
      config.r = linear->lora_rank();
      config.alpha = linear->lora_alpha();
      config.dropout = linear->lora_dropout();
      first = false;
    } else if (linear->lora_rank() != config.r || linear->lora_alpha() != config.alpha ||
               linear->lora_dropout() != config.dropout) {
      fail("{}: adapters differ in r/alpha/dropout ({}/{}/{} vs {}/{}/{}); PEFT's format needs one setting", path,
           linear->lora_rank(), linear->lora_alpha(), linear->lora_dropout(), config.r, config.alpha, config.dropout);
    }
    if (targets.insert(last_component(path)).second) config.target_modules.push_back(last_component(path));
  }
  if (first) fail("the model has no LoRA adapters to save");
  return config;
}

}  // namespace

void save_peft_adapter(const std::string& dir, const LlamaForCausalLMImpl& model,
                       const std::string& base_model_name_or_path) {
  save_peft_adapter_tensors(dir, lora_tensors(model), config_of(model), base_model_name_or_path);
}

void save_peft_adapter_tensors(const std::string& dir, const std::map<std::string, torch::Tensor>& adapter,
                               const LoraConfig& config, const std::string& base_model_name_or_path) {
  if (adapter.empty()) fail("{}: no LoRA adapter tensors to save", dir);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [name, tensor] : adapter) tensors[kPrefix + name] = tensor.detach();
  const std::filesystem::path root(dir);
  std::filesystem::create_directories(root);
  save_safetensors((root / kWeightsFile).string(), tensors, {{"format", "pt"}});

  const nlohmann::json json = {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"base_model_name_or_path", base_model_name_or_path},
      {"r", config.r},
      {"lora_alpha", config.alpha},
      {"lora_dropout", config.dropout},
      {"target_modules", config.target_modules},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"modules_to_save", nullptr},
      {"layers_to_transform", nullptr},
      {"layers_pattern", nullptr},
      {"rank_pattern", nlohmann::json::object()},
      {"alpha_pattern", nlohmann::json::object()},
      {"revision", nullptr},
  };
  write_file_atomic((root / kConfigFile).string(), json.dump(2) + "\n");
}

void load_peft_adapter_tensors(const std::string& dir, std::map<std::string, torch::Tensor>& params) {
  const auto weights_path = (std::filesystem::path(dir) / kWeightsFile).string();
  if (!std::filesystem::exists(weights_path))
    fail("{}: adapter weights not found (only the safetensors format is supported)", weights_path);
  SafetensorsCheckpoint checkpoint(weights_path);
  std::vector<TensorSpec> expected;
  for (const auto& [name, tensor] : params) expected.push_back({kPrefix + name, tensor.sizes().vec()});
  validate_checkpoint(checkpoint, expected);
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : params) tensor.copy_(checkpoint.load(kPrefix + name, tensor.scalar_type()));
}

LoraConfig load_peft_config(const std::string& dir) {
  const auto path = (std::filesystem::path(dir) / kConfigFile).string();
  std::ifstream in(path);
  if (!in) fail("{}: cannot open adapter config", path);
  const nlohmann::json json = parse_json(path, " (a damaged adapter: train it again or restore it)", in);
  auto has = [&](const char* key) { return json.contains(key) && !json[key].is_null(); };
  auto get = [&](const char* key, auto fallback) { return json_field_or(json, key, fallback, path); };
  if (get("peft_type", std::string()) != "LORA")
    fail("{}: peft_type is {}, only LORA adapters are supported", path,
         has("peft_type") ? json["peft_type"].dump() : "missing");
  if (has("task_type") && json["task_type"] != "CAUSAL_LM")
    fail("{}: task_type is {}, expected CAUSAL_LM", path, json["task_type"].dump());
  if (get("bias", std::string("none")) != "none")
    fail("{}: bias '{}' is not supported (only \"none\")", path, json["bias"].dump());
  for (const char* key : {"fan_in_fan_out", "use_rslora", "use_dora", "use_qalora"}) {
    if (get(key, false)) fail("{}: {} = true is not supported", path, key);
  }
  // Newer PEFT options that change what the adapter computes; an empty or null one is PEFT's default.
  for (const char* key : {"rank_pattern", "alpha_pattern", "modules_to_save", "layers_to_transform",
                          "layer_replication", "target_parameters", "exclude_modules", "alora_invocation_tokens"}) {
    if (has(key) && !json[key].empty()) fail("{}: {} {} is not supported", path, key, json[key].dump());
  }
  LoraConfig config;
  if (!has("r")) fail("{}: key 'r' missing", path);
  config.r = get("r", int64_t{0});
  config.alpha = get("lora_alpha", 8.0);  // PEFT's default
  config.dropout = get("lora_dropout", 0.0);
  if (!has("target_modules")) fail("{}: key 'target_modules' missing", path);
  if (!json["target_modules"].is_array())
    fail("{}: target_modules {} must be a list of module names (regular expressions are not supported)", path,
         json["target_modules"].dump());
  config.target_modules = get("target_modules", std::vector<std::string>{});
  if (config.r <= 0) fail("{}: r must be positive, got {}", path, config.r);
  return config;
}

LoraConfig load_peft_adapter(const std::string& dir, LlamaForCausalLMImpl& model) {
  const auto config = load_peft_config(dir);
  const auto config_path = (std::filesystem::path(dir) / kConfigFile).string();
  bool any = false;
  for (const auto& [path, linear] : model.linear_layers()) any = any || linear->has_lora();
  if (!any) {
    apply_lora(model, config);
  } else {
    const auto present = config_of(model);
    const std::set<std::string> want(config.target_modules.begin(), config.target_modules.end());
    const std::set<std::string> have(present.target_modules.begin(), present.target_modules.end());
    if (want != have || present.r != config.r || present.alpha != config.alpha)
      fail("{}: adapter (r {}, alpha {}, targets {}) does not match the model's adapters (r {}, alpha {}, targets {})",
           config_path, config.r, config.alpha, fmt::join(config.target_modules, ","), present.r, present.alpha,
           fmt::join(present.target_modules, ","));
  }

  auto params = lora_tensors(model);
  load_peft_adapter_tensors(dir, params);
  return config;
}

}  // namespace llamarec
