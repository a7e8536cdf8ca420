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

torch::Device retriever_device(const Config& config, int local_rank) {
  const auto device = resolve(config.retriever.device, config, "retriever.device");
  if (device.is_cpu()) return device;
  const auto gpus = static_cast<int>(torch::cuda::device_count());
  return {torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank % gpus)};
}

}  // namespace llamarec
