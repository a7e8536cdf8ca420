#include "pipelines/compute_device.h"

#include "core/error.h"

namespace llamarec {
namespace {

torch::Device resolve(DeviceChoice choice, const Config& config, const std::string& key) {
  if (choice == DeviceChoice::kCpu || (choice == DeviceChoice::kAuto && !torch::cuda::is_available()))
    return torch::kCPU;
  if (!torch::cuda::is_available())
    fail("{}: {} = cuda, but CUDA is not available (a CPU LibTorch or no GPU)", config.origin(key), key);
  return torch::kCUDA;
}

}  // namespace

torch::Device ranker_device(const Config& config) {
  return resolve(config.distributed.device, config, "distributed.device");
}

torch::Device retriever_device(const Config& config) {
  return resolve(config.retriever.device, config, "retriever.device");
}

}  // namespace llamarec
