#include "core/ranking_metrics.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace llamarec {

RankingMetrics::RankingMetrics(std::vector<int64_t> ks) : ks_(std::move(ks)), sums_(6 * ks_.size(), 0.0) {
  for (const auto k : ks_) {
    if (k < 1) fail("ranking metrics: k must be >= 1, got {}", k);
  }
}

void RankingMetrics::add_scores(const torch::Tensor& scores, const torch::Tensor& label) {
  if (scores.dim() != 2 || label.dim() != 1 || label.size(0) != scores.size(0)) {
    fail("ranking metrics: expected scores [B, C] and label [B], got {} and {}", c10::str(scores.sizes()),
         c10::str(label.sizes()));
  }
  auto s = scores.detach().to(torch::kCPU, torch::kFloat64);
  auto l = label.detach().to(torch::kCPU, torch::kLong).unsqueeze(1);  // [B, 1]
  auto target = s.gather(1, l);                                        // [B, 1]
  const auto higher = (s > target).sum(1).contiguous();                // [B]
  const auto tied = ((s == target).sum(1) - 1).contiguous();           // [B], the answer itself excluded
  const auto* h = higher.data_ptr<int64_t>();
  const auto* t = tied.data_ptr<int64_t>();
  for (int64_t i = 0; i < higher.numel(); ++i) {
    // A NaN answer equals nothing, not even itself (t = -1): a miss.
    if (t[i] < 0) {
      add_rank_range(0, 0);
    } else {
      add_rank_range(h[i] + 1, h[i] + 1 + t[i]);
    }
  }
}

void RankingMetrics::add_rank_range(int64_t best, int64_t worst) {
  const double weight = best >= 1 ? 1.0 / static_cast<double>(worst - best + 1) : 0.0;
  for (size_t j = 0; j < ks_.size(); ++j) {
    double mrr = 0, ndcg = 0, recall = 0;  // this user's (expected) values
    for (int64_t rk = std::max<int64_t>(best, 1); rk <= std::min(worst, ks_[j]); ++rk) {
      mrr += weight / static_cast<double>(rk);
      ndcg += weight / std::log2(static_cast<double>(rk) + 1.0);
      recall += weight;
    }
    for (auto [sum, value] :
         {std::pair{&sums_[j], mrr}, std::pair{&sums_[n() + j], ndcg}, std::pair{&sums_[2 * n() + j], recall}}) {
      *sum += value;
      *(sum + 3 * n()) += value * value;
    }
  }
  ++count_;
}

void RankingMetrics::add_ranks(const torch::Tensor& rank) {
  auto r = rank.detach().to(torch::kCPU, torch::kLong).contiguous();
  const auto* p = r.data_ptr<int64_t>();
  for (int64_t i = 0; i < r.numel(); ++i) add_rank_range(p[i], p[i]);  // rank <= 0: a miss everywhere
}

torch::Tensor RankingMetrics::sums() const {
  auto v = sums_;
  v.push_back(static_cast<double>(count_));
  return torch::tensor(v, torch::kFloat64);
}

void RankingMetrics::set_sums(const torch::Tensor& sums) {
  auto s = sums.to(torch::kCPU, torch::kFloat64).contiguous();
  if (static_cast<size_t>(s.numel()) != sums_.size() + 1)
    fail("ranking metrics: expected {} sums, got {}", sums_.size() + 1, s.numel());
  const double* p = s.data_ptr<double>();
  std::copy(p, p + sums_.size(), sums_.begin());
  count_ = static_cast<int64_t>(std::llround(p[sums_.size()]));
}

MetricMap RankingMetrics::means() const {
  MetricMap out;
  const double c = count_ > 0 ? static_cast<double>(count_) : 1.0;
  for (size_t j = 0; j < n(); ++j) {
    for (size_t m = 0; m < 3; ++m) out[metric_name(m, j)] = sums_[m * n() + j] / c;
  }
  return out;
}

MetricMap RankingMetrics::standard_errors() const {
  MetricMap out;
  const double c = static_cast<double>(count_);
  for (size_t j = 0; j < n(); ++j) {
    for (size_t m = 0; m < 3; ++m) {
      const double mean = sums_[m * n() + j] / std::max(c, 1.0);
      // The sample variance of the per-user values, over n - 1.
      const double variance = c > 1 ? (sums_[(3 + m) * n() + j] - c * mean * mean) / (c - 1) : 0.0;
      out[metric_name(m, j)] = c > 1 ? std::sqrt(std::max(variance, 0.0) / c) : 0.0;
    }
  }
  return out;
}

std::string RankingMetrics::metric_name(size_t metric, size_t k_index) const {
  static const char* names[] = {"MRR@", "NDCG@", "Recall@"};
  return names[metric] + std::to_string(ks_[k_index]);
}

MetricMap random_order_metrics(const std::vector<int64_t>& ks, int64_t candidates) {
  RankingMetrics m(ks);
  m.add_ranks(torch::arange(1, candidates + 1, torch::kLong));
  return m.means();
}

}  // namespace llamarec
