#include "distributed/balanced_rows.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/profile_scope.h"

namespace llamarec {

BalancedShare balanced_share(Communicator& comm, const torch::Tensor& local_rows, const torch::Tensor& local_costs,
                             int64_t max_rows) {
  if (local_rows.dim() != 2 || local_rows.scalar_type() != torch::kLong)
    fail("balanced_share: rows must be [n, W] int64, got {} {}", c10::toString(local_rows.scalar_type()),
         c10::str(local_rows.sizes()));
  const int64_t n = local_rows.size(0), width = local_rows.size(1);
  if (local_costs.dim() != 1 || local_costs.size(0) != n)
    fail("balanced_share: {} costs for {} rows", local_costs.numel(), n);
  if (n > max_rows) fail("balanced_share: {} rows exceed the bound of {}", n, max_rows);
  // Its all-gather is where the ranks meet before the forward; the profile tells that wait apart.
  const ProfileScope profile("dp.balanced_share");
  BalancedShare out;
  const int ranks = comm.size();
  if (ranks == 1) {
    out.rows = local_rows;
    out.cost = out.max_cost = local_costs.to(torch::kDouble).sum().item<double>();
    return out;
  }
  // Padded to max_rows so that one all-gather of equal shards moves them; cost 0 marks padding.
  auto rows = torch::zeros({max_rows, width}, torch::kLong);
  auto costs = torch::zeros({max_rows}, torch::kDouble);
  rows.narrow(0, 0, n).copy_(local_rows);
  costs.narrow(0, 0, n).copy_(local_costs.to(torch::kDouble));
  if (n > 0 && !(costs.narrow(0, 0, n) > 0).all().item<bool>()) fail("balanced_share: every cost must be > 0");
  torch::Tensor all_rows, all_costs;
  comm.all_gather(rows, all_rows);    // [ranks * max_rows, W]
  comm.all_gather(costs, all_costs);  // [ranks * max_rows]

  const auto* cost = all_costs.data_ptr<double>();
  std::vector<int64_t> order;
  for (int64_t i = 0; i < all_costs.size(0); ++i) {
    if (cost[i] > 0) order.push_back(i);
  }
  // Longest first, ties by position: identical on every rank.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cost[a] > cost[b]; });
  std::vector<double> load(static_cast<size_t>(ranks), 0.0);
  std::vector<int64_t> mine;
  for (const int64_t i : order) {
    const auto r = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    load[static_cast<size_t>(r)] += cost[i];
    if (r == comm.rank()) mine.push_back(i);
  }
  std::sort(mine.begin(), mine.end());
  out.rows = all_rows.index_select(0, torch::tensor(mine, torch::kLong));
  out.cost = load[static_cast<size_t>(comm.rank())];
  out.max_cost = *std::max_element(load.begin(), load.end());
  return out;
}

}  // namespace llamarec
