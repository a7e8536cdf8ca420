#include "models/lru_params.h"

#include <cmath>

namespace llamarec {
namespace {

bool contains(const std::string& name, const char* part) { return name.find(part) != std::string::npos; }

}  // namespace

bool lru_gets_truncated_normal(const std::string& name) {
  return !contains(name, "layer_norm") && !contains(name, "params_log");
}

bool lru_gets_weight_decay(const std::string& name) { return !contains(name, "bias") && !contains(name, "layer_norm"); }

void lru_truncated_normal_init(torch::nn::Module& module, double mean, double std, double lower, double upper) {
  const double cdf_lower = (1.0 + std::erf((lower - mean) / std / std::sqrt(2.0))) / 2.0;
  const double cdf_upper = (1.0 + std::erf((upper - mean) / std / std::sqrt(2.0))) / 2.0;
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters()) {
    if (!lru_gets_truncated_normal(item.key())) continue;
    auto& p = item.value();
    p.uniform_(2.0 * cdf_lower - 1.0, 2.0 * cdf_upper - 1.0);
    p.erfinv_();
    p.mul_(std * std::sqrt(2.0));
    p.add_(mean);
    // erfinv of a float can round a hair past the bounds.
    p.clamp_(lower, upper);
  }
}

LruParamGroups lru_param_groups(const torch::nn::Module& module) {
  LruParamGroups groups;
  for (const auto& item : module.named_parameters()) {
    if (lru_gets_weight_decay(item.key())) {
      groups.decay_names.push_back(item.key());
      groups.decay.push_back(item.value());
    } else {
      groups.no_decay_names.push_back(item.key());
      groups.no_decay.push_back(item.value());
    }
  }
  return groups;
}

std::vector<torch::optim::OptimizerParamGroup> lru_adamw_param_groups(const torch::nn::Module& module,
                                                                      const torch::optim::AdamWOptions& options) {
  auto groups = lru_param_groups(module);
  auto decay_options = std::make_unique<torch::optim::AdamWOptions>(options);
  auto no_decay_options = std::make_unique<torch::optim::AdamWOptions>(options);
  no_decay_options->weight_decay(0.0);
  std::vector<torch::optim::OptimizerParamGroup> result;
  result.emplace_back(groups.decay, std::move(decay_options));
  result.emplace_back(groups.no_decay, std::move(no_decay_options));
  return result;
}

}  // namespace llamarec
