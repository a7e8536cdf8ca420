// LibTorch's current CUDA stream, for handing to NCCL. Defined only in builds with a CUDA LibTorch
// (LLAMAREC_TORCH_CUDA): Debian's CPU LibTorch ships incomplete c10/cuda headers.
#pragma once

namespace llamarec {

// The cudaStream_t (as void*) that LibTorch currently uses on CUDA device `device_index`.
void* current_torch_cuda_stream(int device_index);

}  // namespace llamarec
