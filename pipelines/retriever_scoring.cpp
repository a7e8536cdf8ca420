#include "pipelines/retriever_scoring.h"

#include <algorithm>

#include "distributed/all_reduce_metrics.h"
#include "core/fault_injection.h"
#include "pipelines/retriever_examples.h"

namespace llamarec {

void for_each_scored_batch(
    LruRec& model, const SequenceDataset& shard, const ScoringOptions& options,
    const std::function<void(const std::vector<int64_t>&, const torch::Tensor&, const torch::Tensor&)>& consume) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  std::vector<int64_t> users;
  for (int64_t u = 0; u < shard.num_local_users(); ++u) {
    if (shard.has_eval(u)) users.push_back(u);
  }
  // Batches of similar lengths: LruRec skips the columns that are padding in every row, so an Amazon
  // shard (median history 6 of a 50-item window) costs a fraction of full windows.
  std::vector<int64_t> length(static_cast<size_t>(shard.num_local_users()), 0);
  for (const auto u : users) {
    length[static_cast<size_t>(u)] = std::min<int64_t>(shard.example(u, options.split).history.size, options.max_len);
  }
  std::stable_sort(users.begin(), users.end(), [&](int64_t a, int64_t b) {
    return length[static_cast<size_t>(a)] < length[static_cast<size_t>(b)];
  });
  for (size_t begin = 0; begin < users.size(); begin += static_cast<size_t>(options.batch_size)) {
    const size_t end = std::min(users.size(), begin + static_cast<size_t>(options.batch_size));
    const std::vector<int64_t> batch_users(users.begin() + static_cast<std::ptrdiff_t>(begin),
                                           users.begin() + static_cast<std::ptrdiff_t>(end));
    const auto b = static_cast<int64_t>(batch_users.size());
    fault_at(FaultPoint::kBatch, static_cast<int64_t>(begin) / options.batch_size);
    auto tokens = torch::empty({b, options.max_len}, torch::kLong);  // [b, max_len]
    auto labels = torch::empty({b}, torch::kLong);                   // [b]
    for (int64_t i = 0; i < b; ++i) {
      const EvalExample ex = shard.example(batch_users[static_cast<size_t>(i)], options.split);
      tokens[i] = left_padded_window(ex.history, options.max_len);
      labels[i] = static_cast<int64_t>(ex.target);
    }
    auto scores = model->scores_last(tokens).to(torch::kFloat32);  // [b, I+1]
    if (options.exclude_history) {
      // Padding 0 sits in the window too, so this also masks column 0 for short histories.
      scores.scatter_(1, tokens, kMaskedScore);
    }
    scores.select(1, 0).fill_(kMaskedScore);
    consume(batch_users, scores, labels);
  }
  if (was_training) model->train();
}

RankingMetrics evaluate_retriever(LruRec& model, const SequenceDataset& shard, const ScoringOptions& options,
                                  const std::vector<int64_t>& ks, Communicator& comm) {
  RankingMetrics metrics(ks);
  for_each_scored_batch(model, shard, options,
                        [&](const std::vector<int64_t>&, const torch::Tensor& scores, const torch::Tensor& labels) {
                          metrics.add_scores(scores, labels);
                        });
  all_reduce_metrics(metrics, comm);
  return metrics;
}

}  // namespace llamarec
