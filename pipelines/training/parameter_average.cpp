#include "pipelines/training/parameter_average.h"

#include <algorithm>

#include "core/error.h"

namespace llamarec {

ParameterAverage::ParameterAverage(std::map<std::string, torch::Tensor> parameters, double decay)
    : parameters_(std::move(parameters)), decay_(decay) {
  if (!(decay > 0 && decay < 1)) fail("parameter average: decay must be in (0, 1), got {}", decay);
  torch::NoGradGuard no_grad;
  for (const auto& [name, p] : parameters_) averages_[name] = p.detach().clone();
}

double ParameterAverage::decay_at(int64_t updates) const {
  const auto n = static_cast<double>(std::max<int64_t>(updates, 0));
  return std::min(decay_, (1.0 + n) / (10.0 + n));
}

void ParameterAverage::update(int64_t updates) {
  torch::NoGradGuard no_grad;
  const double d = decay_at(updates);
  // avg += (1 − d)·(p − avg): one pass, and exact when p == avg.
  for (auto& [name, average] : averages_) average.lerp_(parameters_.at(name).detach(), 1.0 - d);
}

std::map<std::string, torch::Tensor> ParameterAverage::named_averages() const {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, average] : averages_) out["average." + name] = average;
  return out;
}

ParameterAverage::Applied::Applied(ParameterAverage& average) : average_(average) {
  torch::NoGradGuard no_grad;
  // Every copy first (the step that can fail, out of memory), then the swap, undone if it fails
  // part way: a failure leaves the trained parameters in place.
  for (const auto& [name, p] : average_.parameters_) trained_[name] = p.detach().clone();
  try {
    for (auto& [name, p] : average_.parameters_) p.detach().copy_(average_.averages_.at(name));
  } catch (...) {
    for (auto& [name, p] : average_.parameters_) p.detach().copy_(trained_.at(name));
    throw;
  }
}

ParameterAverage::Applied::~Applied() {
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : average_.parameters_) p.detach().copy_(trained_.at(name));
}

}  // namespace llamarec
