// Ranking metrics for one relevant item per user (docs/llamarec.md, "Metrics"): Recall@k (= HR@k), MRR@k, NDCG@k.
// Accumulated as exact per-user sums plus a count, so that per-rank sums can be all-reduced and then
// divided: the result equals the single-process computation over all users (never an average of
// per-batch or per-rank averages).
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace llamarec {

// Metric name ("NDCG@10") -> value.
using MetricMap = std::map<std::string, double>;

class RankingMetrics {
 public:
  explicit RankingMetrics(std::vector<int64_t> ks);

  // scores: [B, C]; label: [B] index of the relevant column. Rank = 1 + number of columns with a
  // strictly higher score, so exact ties count in the user's favour (the reference's argsort puts
  // tied items in arbitrary order; with float scores ties practically never happen).
  void add_scores(const torch::Tensor& scores, const torch::Tensor& label);
  // rank: [B] 1-based rank of the relevant item; rank <= 0 means "not ranked" (a miss at every k).
  void add_ranks(const torch::Tensor& rank);

  const std::vector<int64_t>& ks() const { return ks_; }
  int64_t count() const { return count_; }
  // [3 * |ks| + 1] float64: MRR@k..., NDCG@k..., Recall@k..., count. All-reduce (sum) this and
  // load it back with set_sums() to combine ranks.
  torch::Tensor sums() const;
  void set_sums(const torch::Tensor& sums);

  // {"MRR@10": ..., "NDCG@10": ..., "Recall@10": ...}; zeros when count is 0.
  MetricMap means() const;

 private:
  std::vector<int64_t> ks_;
  std::vector<double> mrr_, ndcg_, recall_;
  int64_t count_ = 0;
};

// What a uniformly random order of `candidates` items scores in expectation when one of them is
// relevant: its rank is uniform on 1..candidates (e.g. NDCG@10 of 20 = 0.2277). The ranker's
// chance level on the valid-retrieval subset.
MetricMap random_order_metrics(const std::vector<int64_t>& ks, int64_t candidates);

}  // namespace llamarec
