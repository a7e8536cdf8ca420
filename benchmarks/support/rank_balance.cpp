#include "benchmarks/support/rank_balance.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "benchmarks/support/sample_stats.h"
#include "core/error.h"

namespace llamarec {

nlohmann::json rank_balance(const std::vector<std::vector<double>>& compute, const std::vector<double>& all_reduce_ms) {
  const auto ranks = compute.size();
  if (ranks == 0 || all_reduce_ms.size() != ranks)
    fail("rank_balance: {} ranks of compute, {} all-reduce times", ranks, all_reduce_ms.size());
  const auto steps = compute[0].size();
  for (const auto& c : compute)
    if (c.size() != steps) fail("rank_balance: the ranks have different numbers of steps ({} and {})", steps, c.size());
  // Per step: each rank's compute minus the step's mean over ranks, and its distance to the slowest.
  std::vector<std::vector<double>> deviation(ranks), wait(ranks);
  for (size_t s = 0; s < steps; ++s) {
    double sum = 0, slowest = 0;
    for (const auto& c : compute) {
      sum += c[s];
      slowest = std::max(slowest, c[s]);
    }
    for (size_t r = 0; r < ranks; ++r) {
      deviation[r].push_back(compute[r][s] - sum / static_cast<double>(ranks));
      wait[r].push_back(slowest - compute[r][s]);
    }
  }
  double jitter_sum = 0;
  for (const auto& d : deviation) {
    const double m = mean(d);
    for (const double x : d) jitter_sum += (x - m) * (x - m);
  }
  // compute[r][s] = the step's work + a rank offset + noise: the residual sum of squares over
  // (ranks - 1)(steps - 1) degrees of freedom estimates the noise variance of one rank.
  const double dof = static_cast<double>(ranks - 1) * (static_cast<double>(steps) - 1);
  const double jitter_sd = dof > 0 ? std::sqrt(jitter_sum / dof) : 0.0;
  nlohmann::json rows = nlohmann::json::array();
  for (size_t r = 0; r < ranks; ++r) {
    const auto& c = compute[r];
    rows.push_back(
        {{"rank", r},
         {"compute_ms",
          {{"mean", mean(c)}, {"p10", quantile(c, 0.1)}, {"p50", quantile(c, 0.5)}, {"p90", quantile(c, 0.9)}}},
         {"all_reduce_ms", all_reduce_ms[r]},
         {"wait_explained_ms", mean(wait[r])},
         {"systematic_ms", mean(deviation[r])}});
  }
  return {{"steps", steps}, {"ranks", rows}, {"jitter_sd_ms", jitter_sd}};
}

nlohmann::json print_rank_balance(Communicator& comm, const StepProfile& profile) {
  const auto forward = profile.ms_by_step("train.forward");
  const auto backward = profile.ms_by_step("train.backward");
  const auto share = profile.ms_by_step("dp.balanced_share");
  const auto all_reduce = profile.ms_by_step("train.all_reduce");
  const auto steps = static_cast<int64_t>(forward.size());
  torch::Tensor all_steps;
  comm.all_gather(torch::tensor({steps}, torch::kLong), all_steps);
  if (!(all_steps == steps).all().item<bool>())
    fail("print_rank_balance: the ranks profiled different numbers of steps ({})", c10::str(all_steps));
  // [2, steps] per rank: compute, then the all-reduce. Compute is the forward and backward less the
  // batch share, whose all-gather is where the ranks last met: what each does from there to the
  // all-reduce is what the faster ones wait for (the collate before it, well under 1 ms, stays in).
  auto mine = torch::empty({2, steps}, torch::kDouble);
  for (int64_t s = 0; s < steps; ++s) {
    const auto i = static_cast<size_t>(s);
    mine[0][s] = forward[i] + backward[i] - share[i];
    mine[1][s] = all_reduce[i];
  }
  torch::Tensor gathered;
  comm.all_gather(mine.flatten(), gathered);  // [ranks * 2 * steps]
  if (comm.rank() != 0) return nullptr;

  const int ranks = comm.size();
  const auto table = gathered.view({ranks, 2, steps});
  std::vector<std::vector<double>> compute(static_cast<size_t>(ranks));
  std::vector<double> all_reduce_ms;
  for (int r = 0; r < ranks; ++r) {
    const auto row = table[r][0].contiguous();
    compute[static_cast<size_t>(r)].assign(row.data_ptr<double>(), row.data_ptr<double>() + steps);
    all_reduce_ms.push_back(table[r][1].mean().item<double>());
  }
  const auto balance = rank_balance(compute, all_reduce_ms);

  fmt::print(
      "\nHow evenly the ranks compute ({} steps; compute = forward + backward after the batch's all-gather, ms per "
      "step):\n",
      steps);
  fmt::print("{:>5} {:>8} {:>8} {:>8} {:>8} {:>12} {:>16} {:>12}\n", "rank", "mean", "p10", "p50", "p90", "all-reduce",
             "wait explained", "systematic");
  for (const auto& row : balance["ranks"]) {
    const auto& c = row["compute_ms"];
    fmt::print("{:>5} {:>8.2f} {:>8.2f} {:>8.2f} {:>8.2f} {:>12.2f} {:>16.2f} {:>+12.2f}\n", row["rank"].get<int>(),
               c["mean"].get<double>(), c["p10"].get<double>(), c["p50"].get<double>(), c["p90"].get<double>(),
               row["all_reduce_ms"].get<double>(), row["wait_explained_ms"].get<double>(),
               row["systematic_ms"].get<double>());
  }
  fmt::print(
      "wait explained = mean of (slowest rank's compute - this rank's) per step; systematic = mean of (this rank's "
      "compute - the step's mean over ranks); jitter: one rank's step-to-step noise around that, {:.2f} ms standard "
      "deviation\n",
      balance["jitter_sd_ms"].get<double>());
  return balance;
}

}  // namespace llamarec
