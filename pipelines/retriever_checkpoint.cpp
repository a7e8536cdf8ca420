#include "pipelines/retriever_checkpoint.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/error.h"
#include "core/json_value.h"
#include "core/safetensors.h"

namespace llamarec {
namespace {
constexpr const char* kConfigKey = "llamarec.lru_config";
}

LruConfig lru_config_from(const RetrieverConfig& r, int64_t num_items, const std::string& where) {
  LruConfig c = r.model;
  c.num_items = num_items;
  validate_lru_config(c, where);
  return c;
}

void save_retriever(const std::string& path, LruRec& model) {
  const auto& c = model->config();
  const nlohmann::json meta = {{"num_items", c.num_items},
                               {"hidden", c.hidden},
                               {"num_blocks", c.num_blocks},
                               {"dropout", c.dropout},
                               {"attn_dropout", c.attn_dropout},
                               {"r_min", c.r_min},
                               {"r_max", c.r_max},
                               {"scan", to_string(c.scan)}};
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& item : model->named_parameters()) tensors[item.key()] = item.value().detach();
  save_safetensors(path, tensors, {{kConfigKey, meta.dump()}, {"format", "pt"}});
}

LruRec load_retriever(const std::string& path) {
  if (!std::filesystem::exists(path)) fail("{}: retriever checkpoint not found (run train-retriever first)", path);
  const SafetensorsCheckpoint checkpoint(path);
  const SafetensorsFile file(path);
  const auto& metadata = file.metadata();
  const auto it = metadata.find(kConfigKey);
  if (it == metadata.end()) fail("{}: not a llamarec retriever checkpoint (no {} metadata)", path, kConfigKey);
  LruConfig c;
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed {} metadata: {}", path, kConfigKey, e.what());
  }
  const std::string where = path + ": " + kConfigKey + " metadata";
  c.num_items = json_field<int64_t>(meta, "num_items", where);
  c.hidden = json_field<int64_t>(meta, "hidden", where);
  c.num_blocks = json_field<int64_t>(meta, "num_blocks", where);
  c.dropout = json_field<double>(meta, "dropout", where);
  c.attn_dropout = json_field<double>(meta, "attn_dropout", where);
  c.r_min = json_field<double>(meta, "r_min", where);
  c.r_max = json_field<double>(meta, "r_max", where);
  c.scan = parse_lru_scan(json_field<std::string>(meta, "scan", where), path);
  LruRec model(c);
  torch::NoGradGuard no_grad;
  std::vector<TensorSpec> expected;
  for (const auto& item : model->named_parameters()) {
    expected.push_back({item.key(), item.value().sizes().vec()});
  }
  validate_checkpoint(checkpoint, expected);
  for (auto& item : model->named_parameters()) {
    item.value().copy_(checkpoint.load(item.key(), item.value().scalar_type()));
  }
  model->eval();
  return model;
}

}  // namespace llamarec
