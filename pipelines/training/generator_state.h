// The state of LibTorch's default generators, the ones dropout draws from: CPU always, and the
// device's CUDA generator when `device` is a CUDA device. Saved per rank in every training state so
// that a resumed run draws the same dropout masks as an uninterrupted one.
#pragma once
#include <torch/torch.h>

namespace llamarec {

// uint8 [n]: the CPU generator's state, then the CUDA one's where there is one.
torch::Tensor capture_generator_state(const torch::Device& device);
// Restores what capture_generator_state returned on the same kind of device; false (nothing
// changed) when `state` has another size, i.e. was captured elsewhere.
bool restore_generator_state(const torch::Tensor& state, const torch::Device& device);

}  // namespace llamarec
