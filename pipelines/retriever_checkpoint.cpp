#include "pipelines/retriever_checkpoint.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/error.h"
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
  try {
    const auto meta = nlohmann::json::parse(it->second);
    c.num_items = meta.at("num_items").get<int64_t>();
    c.hidden = meta.at("hidden").get<int64_t>();
    c.num_blocks = meta.at("num_blocks").get<int64_t>();
    c.dropout = meta.at("dropout").get<double>();
    c.attn_dropout = meta.at("attn_dropout").get<double>();
    c.r_min = meta.at("r_min").get<double>();
    c.r_max = meta.at("r_max").get<double>();
    c.scan = parse_lru_scan(meta.at("scan").get<std::string>(), path);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed {} metadata: {}", path, kConfigKey, e.what());
  }
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
