#include "core/ranking_metrics.h"

#include <cmath>

#include "core/error.h"

namespace llamarec {

RankingMetrics::RankingMetrics(std::vector<int64_t> ks)
    : ks_(std::move(ks)), mrr_(ks_.size(), 0.0), ndcg_(ks_.size(), 0.0), recall_(ks_.size(), 0.0) {
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
  auto rank = (s > target).sum(1) + 1;                                 // [B]
  add_ranks(rank);
}

void RankingMetrics::add_ranks(const torch::Tensor& rank) {
  auto r = rank.detach().to(torch::kCPU, torch::kLong).contiguous();
  const auto* p = r.data_ptr<int64_t>();
  for (int64_t i = 0; i < r.numel(); ++i) {
    const int64_t rk = p[i];
    for (size_t j = 0; j < ks_.size(); ++j) {
      if (rk >= 1 && rk <= ks_[j]) {
        mrr_[j] += 1.0 / static_cast<double>(rk);
        ndcg_[j] += 1.0 / std::log2(static_cast<double>(rk) + 1.0);
        recall_[j] += 1.0;
      }
    }
  }
  count_ += r.numel();
}

torch::Tensor RankingMetrics::sums() const {
  std::vector<double> v;
  v.insert(v.end(), mrr_.begin(), mrr_.end());
  v.insert(v.end(), ndcg_.begin(), ndcg_.end());
  v.insert(v.end(), recall_.begin(), recall_.end());
  v.push_back(static_cast<double>(count_));
  return torch::tensor(v, torch::kFloat64);
}

void RankingMetrics::set_sums(const torch::Tensor& sums) {
  const size_t n = ks_.size();
  auto s = sums.to(torch::kCPU, torch::kFloat64).contiguous();
  if (static_cast<size_t>(s.numel()) != 3 * n + 1)
    fail("ranking metrics: expected {} sums, got {}", 3 * n + 1, s.numel());
  const double* p = s.data_ptr<double>();
  for (size_t j = 0; j < n; ++j) {
    mrr_[j] = p[j];
    ndcg_[j] = p[n + j];
    recall_[j] = p[2 * n + j];
  }
  count_ = static_cast<int64_t>(std::llround(p[3 * n]));
}

MetricMap RankingMetrics::means() const {
  std::map<std::string, double> out;
  const double c = count_ > 0 ? static_cast<double>(count_) : 1.0;
  for (size_t j = 0; j < ks_.size(); ++j) {
    const auto k = std::to_string(ks_[j]);
    out["MRR@" + k] = mrr_[j] / c;
    out["NDCG@" + k] = ndcg_[j] / c;
    out["Recall@" + k] = recall_[j] / c;
  }
  return out;
}

MetricMap random_order_metrics(const std::vector<int64_t>& ks, int64_t candidates) {
  RankingMetrics m(ks);
  m.add_ranks(torch::arange(1, candidates + 1, torch::kLong));
  return m.means();
}

}  // namespace llamarec
