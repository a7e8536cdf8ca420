#include "benchmarks/support/rank_balance.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace llamarec {
namespace {

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (const double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

}  // namespace

nlohmann::json print_rank_balance(Communicator& comm, const StepProfile& profile) {
  const auto forward = profile.phase_ms_by_step("train.forward");
  const auto backward = profile.phase_ms_by_step("train.backward");
  const auto all_reduce = profile.phase_ms_by_step("train.all_reduce");
  const auto steps = static_cast<int64_t>(forward.size());
  torch::Tensor all_steps;
  comm.all_gather(torch::tensor({steps}, torch::kLong), all_steps);
  if (!(all_steps == steps).all().item<bool>())
    fail("print_rank_balance: the ranks profiled different numbers of steps ({})", c10::str(all_steps));
  // [2, steps] per rank: compute (forward + backward), then the all-reduce.
  auto mine = torch::empty({2, steps}, torch::kDouble);
  for (int64_t s = 0; s < steps; ++s) {
    const auto i = static_cast<size_t>(s);
    mine[0][s] = forward[i] + backward[i];
    mine[1][s] = all_reduce[i];
  }
  torch::Tensor gathered;
  comm.all_gather(mine.flatten(), gathered);  // [ranks * 2 * steps]
  if (comm.rank() != 0) return nullptr;

  const int ranks = comm.size();
  const auto table = gathered.view({ranks, 2, steps});
  std::vector<std::vector<double>> compute(static_cast<size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    const auto row = table[r][0].contiguous();
    compute[static_cast<size_t>(r)].assign(row.data_ptr<double>(), row.data_ptr<double>() + steps);
  }
  // Per step: each rank's compute minus the step's mean over ranks, and its distance to the slowest.
  std::vector<std::vector<double>> deviation(static_cast<size_t>(ranks)), wait(static_cast<size_t>(ranks));
  for (int64_t s = 0; s < steps; ++s) {
    double sum = 0, slowest = 0;
    for (const auto& c : compute) {
      sum += c[static_cast<size_t>(s)];
      slowest = std::max(slowest, c[static_cast<size_t>(s)]);
    }
    for (int r = 0; r < ranks; ++r) {
      const double c = compute[static_cast<size_t>(r)][static_cast<size_t>(s)];
      deviation[static_cast<size_t>(r)].push_back(c - sum / ranks);
      wait[static_cast<size_t>(r)].push_back(slowest - c);
    }
  }
  double jitter_sum = 0;
  int64_t jitter_n = 0;
  for (const auto& d : deviation) {
    const double m = mean(d);
    for (const double x : d) jitter_sum += (x - m) * (x - m);
    jitter_n += static_cast<int64_t>(d.size());
  }
  const double jitter_sd = jitter_n > ranks ? std::sqrt(jitter_sum / static_cast<double>(jitter_n - ranks)) : 0.0;

  fmt::print("\nHow evenly the ranks compute ({} steps; compute = forward + backward, ms per step):\n", steps);
  fmt::print("{:>5} {:>8} {:>8} {:>8} {:>8} {:>12} {:>16} {:>12}\n", "rank", "mean", "p10", "p50", "p90", "all-reduce",
             "wait explained", "systematic");
  nlohmann::json rows = nlohmann::json::array();
  for (int r = 0; r < ranks; ++r) {
    const auto& c = compute[static_cast<size_t>(r)];
    const auto ar = table[r][1].mean().item<double>();
    const double explained = mean(wait[static_cast<size_t>(r)]), systematic = mean(deviation[static_cast<size_t>(r)]);
    fmt::print("{:>5} {:>8.2f} {:>8.2f} {:>8.2f} {:>8.2f} {:>12.2f} {:>16.2f} {:>+12.2f}\n", r, mean(c),
               quantile(c, 0.1), quantile(c, 0.5), quantile(c, 0.9), ar, explained, systematic);
    rows.push_back(
        {{"rank", r},
         {"compute_ms",
          {{"mean", mean(c)}, {"p10", quantile(c, 0.1)}, {"p50", quantile(c, 0.5)}, {"p90", quantile(c, 0.9)}}},
         {"all_reduce_ms", ar},
         {"wait_explained_ms", explained},
         {"systematic_ms", systematic}});
  }
  fmt::print(
      "wait explained = mean of (slowest rank's compute - this rank's) per step; systematic = mean of (this rank's "
      "compute - the step's mean over ranks); jitter: the standard deviation around that, {:.2f} ms\n",
      jitter_sd);
  return {{"steps", steps}, {"ranks", rows}, {"jitter_sd_ms", jitter_sd}};
}

}  // namespace llamarec
