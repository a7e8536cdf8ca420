#include "pipelines/training/optimizer_state.h"

#include <set>

#include "core/error.h"

namespace llamarec {
namespace {

enum class Kind { kAdam, kAdamW, kSgd };

Kind kind_of(torch::optim::Optimizer& optimizer) {
  if (dynamic_cast<torch::optim::AdamW*>(&optimizer)) return Kind::kAdamW;
  if (dynamic_cast<torch::optim::Adam*>(&optimizer)) return Kind::kAdam;
  if (dynamic_cast<torch::optim::SGD*>(&optimizer)) return Kind::kSgd;
  fail("training state: the checkpointer saves Adam, AdamW and SGD optimizers only");
}

// Adam and AdamW keep the same fields under different types.
template <class State>
void put_adam(const State& s, const std::string& name, std::map<std::string, torch::Tensor>& out) {
  out[name + ".step"] = torch::tensor({s.step()}, torch::kLong);
  out[name + ".exp_avg"] = s.exp_avg();
  out[name + ".exp_avg_sq"] = s.exp_avg_sq();
  if (s.max_exp_avg_sq().defined()) out[name + ".max_exp_avg_sq"] = s.max_exp_avg_sq();
}

template <class State>
std::unique_ptr<State> take_adam(const std::string& name, const torch::Tensor& p,
                                 const std::function<torch::Tensor(const std::string&, bool)>& get) {
  auto s = std::make_unique<State>();
  s->step(get(name + ".step", false).item<int64_t>());
  s->exp_avg(get(name + ".exp_avg", true));
  s->exp_avg_sq(get(name + ".exp_avg_sq", true));
  if (auto m = get(name + ".max_exp_avg_sq?", true); m.defined()) s->max_exp_avg_sq(m);
  return s;
}

}  // namespace

std::map<std::string, torch::Tensor> optimizer_state_tensors(torch::optim::Optimizer& optimizer,
                                                             const std::map<std::string, torch::Tensor>& parameters) {
  const Kind kind = kind_of(optimizer);
  auto& states = optimizer.state();
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, p] : parameters) {
    const auto it = states.find(optimizer_state_key(p));
    if (it == states.end()) continue;
    switch (kind) {
      case Kind::kAdamW:
        put_adam(static_cast<const torch::optim::AdamWParamState&>(*it->second), name, out);
        break;
      case Kind::kAdam:
        put_adam(static_cast<const torch::optim::AdamParamState&>(*it->second), name, out);
        break;
      case Kind::kSgd: {
        const auto& s = static_cast<const torch::optim::SGDParamState&>(*it->second);
        if (s.momentum_buffer().defined()) out[name + ".momentum_buffer"] = s.momentum_buffer();
        break;
      }
    }
  }
  for (auto& [name, t] : out) t = t.detach().to(torch::kCPU).contiguous();
  return out;
}

void load_optimizer_state(torch::optim::Optimizer& optimizer, const std::map<std::string, torch::Tensor>& parameters,
                          const std::map<std::string, torch::Tensor>& saved, const std::string& file) {
  const Kind kind = kind_of(optimizer);
  std::set<std::string> used;
  auto& states = optimizer.state();
  states.clear();
  for (const auto& [name, p] : parameters) {
    // `key` ending in '?' is optional; `like_parameter`: the shape, dtype and device of `p`.
    auto get = [&, &name = name, &p = p](std::string key, bool like_parameter) -> torch::Tensor {
      const bool optional = key.back() == '?';
      if (optional) key.pop_back();
      const auto it = saved.find(key);
      if (it == saved.end()) {
        if (optional) return {};
        fail("{}: no tensor {} (the state of parameter {} is incomplete)", file, key, name);
      }
      used.insert(key);
      if (!like_parameter) return it->second;
      if (it->second.sizes() != p.sizes())
        fail("{}: tensor {} has shape {}, parameter {} has {} (a state for another model or config)", file, key,
             c10::str(it->second.sizes()), name, c10::str(p.sizes()));
      return it->second.to(p.options());
    };
    const bool has_state = saved.count(name + ".step") || saved.count(name + ".momentum_buffer");
    if (!has_state) continue;
    switch (kind) {
      case Kind::kAdamW:
        states[optimizer_state_key(p)] = take_adam<torch::optim::AdamWParamState>(name, p, get);
        break;
      case Kind::kAdam:
        states[optimizer_state_key(p)] = take_adam<torch::optim::AdamParamState>(name, p, get);
        break;
      case Kind::kSgd: {
        auto s = std::make_unique<torch::optim::SGDParamState>();
        s->momentum_buffer(get(name + ".momentum_buffer", true));
        states[optimizer_state_key(p)] = std::move(s);
        break;
      }
    }
  }
  for (const auto& [key, t] : saved) {
    if (!used.count(key)) fail("{}: tensor {} belongs to no parameter of this model", file, key);
  }
}

}  // namespace llamarec
