// Where each model computes: the ranker on distributed.device (auto: CUDA when available), the
// retriever on retriever.device (cpu unless asked: its fused kernels are CPU ones and give the same
// bits on any x86-64 CPU; on CUDA it runs the parallel scan). Errors name the config key.
// On CUDA, each rank takes the GPU of its node-local rank (local_rank % GPUs), as the NCCL backend does.
#pragma once
#include <torch/torch.h>

#include "pipelines/config.h"

namespace llamarec {

torch::Device ranker_device(const Config& config);
torch::Device retriever_device(const Config& config, int local_rank);

}  // namespace llamarec
