// The optimizer's per-parameter state as named tensors, for the training state's
// optimizer.safetensors. LibTorch's own archive keys the state by tensor address (different in every
// process, so two equal states are never equal files) and its errors name no file; by parameter
// name, a state can be compared, checked against the model, and explained when it does not fit.
//   Adam, AdamW   <name>.step (int64 [1]), <name>.exp_avg, <name>.exp_avg_sq (+ <name>.max_exp_avg_sq
//                 with amsgrad)
//   SGD           <name>.momentum_buffer (with momentum)
// A parameter that has not been updated yet has no state and no entries.
#pragma once
#include <torch/torch.h>

#include <map>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

namespace llamarec {

// The key LibTorch's optimizers use for a parameter's state: the TensorImpl's address as a string
// up to LibTorch 2.1, the address itself from 2.2 on. A template, so that the branch of the other
// version is never compiled.
using OptimizerStateKey = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;
template <class Key = OptimizerStateKey>
Key optimizer_state_key(const torch::Tensor& parameter) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream out;  // what 1.13's c10::guts::to_string does with a pointer
    out << parameter.unsafeGetTensorImpl();
    return out.str();
  } else {
    return parameter.unsafeGetTensorImpl();
  }
}

std::map<std::string, torch::Tensor> optimizer_state_tensors(torch::optim::Optimizer& optimizer,
                                                             const std::map<std::string, torch::Tensor>& parameters);

// Replaces the optimizer's state by `saved` (as written by optimizer_state_tensors). A tensor for
// no parameter, of the wrong shape, or missing is an error naming `file` and the tensor.
void load_optimizer_state(torch::optim::Optimizer& optimizer, const std::map<std::string, torch::Tensor>& parameters,
                          const std::map<std::string, torch::Tensor>& saved, const std::string& file);

}  // namespace llamarec
