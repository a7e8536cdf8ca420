#include "pipelines/ranker_controls.h"

#include <cmath>

#include "core/error.h"
#include "distributed/all_reduce_metrics.h"

namespace llamarec {

namespace {

void all_reduce_sum(torch::Tensor& t, Communicator& comm) {
  auto on_device = t.to(comm.device());
  comm.all_reduce(on_device, ReduceOp::kSum);
  t = on_device.to(torch::kCPU);
}

}  // namespace

ScoredExamples scored_examples(torch::Tensor logits, const std::vector<RankerExample>& examples,
                               const std::vector<std::vector<CandidateOrder>>& orders) {
  const int64_t n = logits.size(0);
  if (n > static_cast<int64_t>(examples.size()) || n > static_cast<int64_t>(orders.size()))
    fail("ranker: {} scored examples for {} examples", n, examples.size());
  ScoredExamples out;
  out.logits = logits.to(torch::kCPU, torch::kFloat32);
  out.orders.assign(orders.begin(), orders.begin() + n);
  std::vector<int64_t> answers, ranks;
  std::vector<float> retriever;
  for (int64_t e = 0; e < n; ++e) {
    answers.push_back(examples[e].answer);
    ranks.push_back(examples[e].retriever_rank);
    if (examples[e].retriever_scores.size() != static_cast<size_t>(logits.size(2)))
      fail("ranker: example without the retriever's scores of its {} candidates", logits.size(2));
    retriever.insert(retriever.end(), examples[e].retriever_scores.begin(), examples[e].retriever_scores.end());
  }
  out.answers = torch::tensor(answers, torch::kLong);
  out.retriever_ranks = torch::tensor(ranks, torch::kLong);
  out.retriever_log_probs = torch::tensor(retriever, torch::kFloat32).view({n, logits.size(2)}).log_softmax(-1);
  return out;
}

torch::Tensor method_scores(const ScoredExamples& scored, const ScoreMethod& method) {
  const int64_t n = scored.logits.size(0), c = scored.logits.size(2);
  if (method.orders.empty()) fail("ranker: a scoring method without an order");
  std::vector<torch::Tensor> per_order;  // [E, C] by candidate, one per order
  for (const auto o : method.orders) {
    if (o < 0 || o >= scored.logits.size(1)) fail("ranker: order {} of {}", o, scored.logits.size(1));
    auto slots = scored.logits.select(1, o).log_softmax(-1);  // [E, C]
    if (method.log_prior.defined()) slots = slots - method.log_prior;
    auto mapped = torch::empty({n, c}, torch::kFloat32);
    for (int64_t e = 0; e < n; ++e) mapped[e] = slots_to_candidates(slots[e], scored.orders[e][o]);
    per_order.push_back(mapped);
  }
  const auto stacked = torch::stack(per_order);  // [O', E, C]
  const auto orders = static_cast<double>(method.orders.size());
  // The mean probability in log space: exp() of log-probabilities below -104 would underflow.
  auto out = method.mean_probabilities ? stacked.logsumexp(0) - std::log(orders) : stacked.mean(0);
  if (method.fusion_weight != 0.0) out += method.fusion_weight * scored.retriever_log_probs;
  return out;
}

RankingMetrics method_metrics(const ScoredExamples& scored, const ScoreMethod& method, Communicator& comm,
                              const std::vector<int64_t>& ks) {
  RankingMetrics metrics(ks);
  if (scored.logits.size(0) > 0) metrics.add_scores(method_scores(scored, method), scored.answers);
  all_reduce_metrics(metrics, comm);
  return metrics;
}

RankingMetrics retriever_metrics(const ScoredExamples& scored, Communicator& comm, const std::vector<int64_t>& ks) {
  RankingMetrics metrics(ks);
  metrics.add_ranks(scored.retriever_ranks);
  all_reduce_metrics(metrics, comm);
  return metrics;
}

torch::Tensor letter_log_prior(const ScoredExamples& scored, const std::vector<int64_t>& orders, Communicator& comm) {
  const int64_t c = scored.logits.size(2);
  auto sums = torch::zeros({c + 1}, torch::kFloat64);  // probability sums per slot, then the count
  for (const auto o : orders) {
    // No examples on any rank: score_in_orders returned [0, 0, C].
    if (scored.logits.size(0) == 0 || o >= scored.logits.size(1)) continue;
    const auto probs = scored.logits.select(1, o).to(torch::kFloat64).softmax(-1);  // [E, C]
    sums.slice(0, 0, c) += probs.sum(0);
    sums[c] += static_cast<double>(probs.size(0));
  }
  all_reduce_sum(sums, comm);
  const double count = sums[c].item<double>();
  if (count == 0) return {};
  // Floored: a letter the model never gives any weight must not get +inf after calibration.
  return (sums.slice(0, 0, c) / count).clamp_min(1e-30).log().to(torch::kFloat32);
}

double choose_fusion_weight(const ScoredExamples& scored, ScoreMethod method, const std::vector<double>& grid,
                            Communicator& comm) {
  double best_weight = 0.0, best = -1.0;
  for (const double w : grid) {
    method.fusion_weight = w;
    const double ndcg = method_metrics(scored, method, comm, {10}).means().at("NDCG@10");
    if (ndcg > best) {
      best = ndcg;
      best_weight = w;
    }
  }
  return best_weight;
}

SlotProfile slot_profile(const ScoredExamples& scored, int64_t order, Communicator& comm) {
  const int64_t n = scored.logits.size(0), c = scored.logits.size(2);
  auto counts = torch::zeros({3, c}, torch::kFloat64);  // answers, hits, picks per slot
  if (n > 0) {
    const auto top = scored.logits.select(1, order).argmax(-1).contiguous();  // [E] slot
    const auto* t = top.data_ptr<int64_t>();
    const auto* a = scored.answers.data_ptr<int64_t>();
    auto acc = counts.accessor<double, 2>();
    for (int64_t e = 0; e < n; ++e) {
      const auto& shown = scored.orders[e][order];
      const auto slot = std::find(shown.begin(), shown.end(), a[e]) - shown.begin();
      acc[0][slot] += 1;
      if (t[e] == slot) acc[1][slot] += 1;
      acc[2][t[e]] += 1;
    }
  }
  all_reduce_sum(counts, comm);
  const auto to_vector = [](const torch::Tensor& row) {
    const auto r = row.contiguous();
    return std::vector<double>(r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
  };
  return {to_vector(counts[0]), to_vector(counts[1]), to_vector(counts[2])};
}

}  // namespace llamarec
