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

  // scores: [B, C]; label: [B] index of the relevant column. Ties never favour the answer: with h
  // columns strictly higher and t others equal to it, its rank is taken as uniform on h+1 .. h+1+t
  // and the expected metrics are added (what a random tie-break scores on average; a model that
  // gives every candidate the same score scores random_order_metrics). The reference's argsort
  // breaks ties by position, which favours whatever order the candidates came in.
  void add_scores(const torch::Tensor& scores, const torch::Tensor& label);
  // rank: [B] 1-based rank of the relevant item; rank <= 0 means "not ranked" (a miss at every k).
  void add_ranks(const torch::Tensor& rank);

  const std::vector<int64_t>& ks() const { return ks_; }
  int64_t count() const { return count_; }
  // [6 * |ks| + 1] float64: the per-user sums of MRR@k..., NDCG@k..., Recall@k..., then of their
  // squares in the same order, then the count. All-reduce (sum) this and load it back with
  // set_sums() to combine ranks.
  torch::Tensor sums() const;
  void set_sums(const torch::Tensor& sums);

  // {"MRR@10": ..., "NDCG@10": ..., "Recall@10": ...}; zeros when count is 0.
  MetricMap means() const;
  // The standard error of each mean over users: sqrt(sample variance / count); zeros below 2 users.
  MetricMap standard_errors() const;

 private:
  // One user whose rank is uniform on best .. worst (1-based).
  // (rank <= 0: a miss at every k.)
  void add_rank_range(int64_t best, int64_t worst);
  size_t n() const { return ks_.size(); }
  std::string metric_name(size_t metric, size_t k_index) const;

  std::vector<int64_t> ks_;
  std::vector<double> sums_;  // layout of sums() without the count
  int64_t count_ = 0;
};

// What a uniformly random order of `candidates` items scores in expectation when one of them is
// relevant: its rank is uniform on 1..candidates (e.g. NDCG@10 of 20 = 0.2277). The ranker's
// chance level on the valid-retrieval subset.
MetricMap random_order_metrics(const std::vector<int64_t>& ks, int64_t candidates);

}  // namespace llamarec
