// The reference's by-name parameter rules for LRURec (docs/llamarec.md, "Retriever": initialisation, optimiser groups).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace llamarec {

// LRURec.truncated_normal_init touches every parameter whose name has neither "layer_norm" nor
// "params_log" (real and imaginary halves are separate parameters here, so each gets its own draw).
bool lru_gets_truncated_normal(const std::string& name);
// AdamW decays every parameter whose name has neither "bias" nor "layer_norm" (so params_log and
// the item embedding are decayed, the item bias `model.bias` and all Linear biases are not).
bool lru_gets_weight_decay(const std::string& name);

// In place, without autograd: for each selected parameter, values of N(mean, std²) truncated to
// [lower, upper] by the reference's inverse-CDF recipe (uniform → erfinv → scale).
void lru_truncated_normal_init(torch::nn::Module& module, double mean = 0.0, double std = 0.02, double lower = -0.04,
                               double upper = 0.04);

struct LruParamGroups {
  std::vector<std::string> decay_names;
  std::vector<torch::Tensor> decay;
  std::vector<std::string> no_decay_names;
  std::vector<torch::Tensor> no_decay;
};
LruParamGroups lru_param_groups(const torch::nn::Module& module);

// The two AdamW groups: the decayed one with options.weight_decay(), the other with 0.
std::vector<torch::optim::OptimizerParamGroup> lru_adamw_param_groups(const torch::nn::Module& module,
                                                                      const torch::optim::AdamWOptions& options);

}  // namespace llamarec
