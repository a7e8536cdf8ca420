#include "distributed/all_reduce_metrics.h"

namespace llamarec {

void all_reduce_metrics(RankingMetrics& metrics, Communicator& comm) {
  auto sums = metrics.sums().to(comm.device());  // NCCL reduces on the GPU
  comm.all_reduce(sums, ReduceOp::kSum);
  metrics.set_sums(sums.to(torch::kCPU));
}

}  // namespace llamarec
