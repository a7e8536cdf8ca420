#include "distributed/global_offset.h"

namespace llamarec {

GlobalOffset global_offset(Communicator& comm, int64_t local_count) {
  torch::Tensor counts;
  comm.all_gather(torch::tensor({local_count}, torch::TensorOptions().dtype(torch::kLong).device(comm.device())),
                  counts);
  const auto c = counts.to(torch::kCPU);
  const int64_t first = comm.rank() == 0 ? 0 : c.slice(0, 0, comm.rank()).sum().item<int64_t>();
  return {first, c.sum().item<int64_t>()};
}

}  // namespace llamarec
