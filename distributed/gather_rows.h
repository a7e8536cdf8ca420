// All-gather of row blocks whose row counts differ per rank (per-rank user shards): counts are
// gathered first, blocks padded to the largest, gathered in one collective, and the padding dropped.
#pragma once
#include <torch/torch.h>

#include "distributed/communicator.h"

namespace llamarec {

// rows: [n_r, ...] on this rank (same trailing shape and dtype everywhere) → [Σ n_r, ...] in rank order.
torch::Tensor all_gather_rows(Communicator& comm, const torch::Tensor& rows);

}  // namespace llamarec
