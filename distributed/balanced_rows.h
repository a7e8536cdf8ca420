// Data parallelism with a balanced share of each global batch. Each rank owns the examples of its
// shard of users (it reads only those), but a global batch drawn in one order for all ranks falls
// on them unevenly: 16 examples on 2 ranks split 10/6 or worse in about half the steps, and histories
// differ in length tenfold, so the slowest rank sets every step's time. The rows of a batch are
// small (token ids), so every rank sends its own to all, and each then takes the share that a
// deterministic longest-processing-time assignment by cost gives it: the same global batch, the
// same gradient sum, work within one row of even.
#pragma once
#include <torch/torch.h>

#include "distributed/communicator.h"

namespace llamarec {

struct BalancedShare {
  torch::Tensor rows;   // [m, W], this rank's share, in global-batch order
  double cost = 0;      // its summed cost
  double max_cost = 0;  // the largest share's cost over all ranks (the step's critical path)
};

// local_rows: [n, W] int64, this rank's rows of the global batch (n may be 0); local_costs: [n]
// float64, each > 0; max_rows: an upper bound of n on every rank (the global batch size). Rows are
// ordered by rank, then by their order on that rank. Collective: every rank calls it every step.
BalancedShare balanced_share(Communicator& comm, const torch::Tensor& local_rows, const torch::Tensor& local_costs,
                             int64_t max_rows);

}  // namespace llamarec
