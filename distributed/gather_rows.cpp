#include "distributed/gather_rows.h"

namespace llamarec {

torch::Tensor all_gather_rows(Communicator& comm, const torch::Tensor& rows) {
  if (comm.size() == 1) return rows;
  torch::Tensor counts;
  comm.all_gather(torch::tensor({rows.size(0)}, torch::kLong), counts);
  const auto counts_cpu = counts.to(torch::kCPU);
  const int64_t max_rows = counts_cpu.max().item<int64_t>();
  auto shape = rows.sizes().vec();
  shape[0] = max_rows;
  auto padded = torch::zeros(shape, rows.options());
  padded.narrow(0, 0, rows.size(0)).copy_(rows);
  torch::Tensor gathered;
  comm.all_gather(padded, gathered);  // [size * max_rows, ...]
  std::vector<torch::Tensor> parts;
  for (int r = 0; r < comm.size(); ++r) {
    parts.push_back(gathered.narrow(0, r * max_rows, counts_cpu[r].item<int64_t>()));
  }
  return torch::cat(parts, 0);
}

}  // namespace llamarec
