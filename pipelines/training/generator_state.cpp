#include "pipelines/training/generator_state.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <mutex>

namespace llamarec {
namespace {

std::vector<at::Generator> generators(const torch::Device& device) {
  std::vector<at::Generator> out = {at::detail::getDefaultCPUGenerator()};
  if (device.is_cuda()) out.push_back(at::globalContext().defaultGenerator(device));
  return out;
}

}  // namespace

torch::Tensor capture_generator_state(const torch::Device& device) {
  std::vector<torch::Tensor> parts;
  for (auto& g : generators(device)) {
    std::lock_guard<std::mutex> lock(g.mutex());
    parts.push_back(g.get_state().to(torch::kCPU).reshape({-1}));
  }
  return torch::cat(parts);
}

bool restore_generator_state(const torch::Tensor& state, const torch::Device& device) {
  auto gens = generators(device);
  std::vector<int64_t> sizes;
  int64_t total = 0;
  for (auto& g : gens) {
    std::lock_guard<std::mutex> lock(g.mutex());
    sizes.push_back(g.get_state().numel());
    total += sizes.back();
  }
  if (state.scalar_type() != torch::kUInt8 || state.dim() != 1 || state.numel() != total) return false;
  int64_t offset = 0;
  for (size_t i = 0; i < gens.size(); ++i) {
    std::lock_guard<std::mutex> lock(gens[i].mutex());
    gens[i].set_state(state.slice(0, offset, offset + sizes[i]).clone());
    offset += sizes[i];
  }
  return true;
}

}  // namespace llamarec
