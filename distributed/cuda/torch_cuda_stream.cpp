#include "distributed/cuda/torch_cuda_stream.h"

#include <c10/cuda/CUDAStream.h>

namespace llamarec {

void* current_torch_cuda_stream(int device_index) {
  return static_cast<void*>(c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_index)).stream());
}

}  // namespace llamarec
