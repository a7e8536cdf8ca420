#include "pipelines/retriever_scoring.h"

#include <algorithm>
#include <numeric>

#include "distributed/all_reduce_metrics.h"
#include "core/fault_injection.h"
#include "pipelines/retriever_examples.h"

namespace llamarec {

void for_each_scored_window(LruRec& model, const std::vector<ScoringWindow>& windows, const ScoringOptions& options,
                            const ScoredBatchConsumer& consume) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  const auto device = model->parameters().front().device();  // the scores come back to the CPU
  // Batches of similar lengths: LruRec skips the columns that are padding in every row, so an Amazon
  // shard (median history 6 of a 50-item window) costs a fraction of full windows.
  std::vector<size_t> order(windows.size());
  std::iota(order.begin(), order.end(), 0);
  const auto length = [&](size_t w) { return std::min<int64_t>(windows[w].history.size, options.max_len); };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return length(a) < length(b); });
  for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(options.batch_size)) {
    const size_t end = std::min(order.size(), begin + static_cast<size_t>(options.batch_size));
    const auto b = static_cast<int64_t>(end - begin);
    fault_at(FaultPoint::kBatch, static_cast<int64_t>(begin) / options.batch_size);
    std::vector<int64_t> ids;                                        // indices into `windows`
    auto tokens = torch::empty({b, options.max_len}, torch::kLong);  // [b, max_len]
    auto labels = torch::empty({b}, torch::kLong);                   // [b]
    for (int64_t i = 0; i < b; ++i) {
      const size_t index = order[begin + static_cast<size_t>(i)];
      const auto& w = windows[index];
      ids.push_back(static_cast<int64_t>(index));
      tokens[i] = left_padded_window(w.history, options.max_len);
      labels[i] = static_cast<int64_t>(w.target);
    }
    auto scores = model->scores_last(tokens.to(device)).to(torch::kCPU, torch::kFloat32);  // [b, I+1]
    if (options.exclude_history) {
      // Padding 0 sits in the window too, so this also masks column 0 for short histories.
      scores.scatter_(1, tokens, kMaskedScore);
    }
    scores.select(1, 0).fill_(kMaskedScore);
    consume(ids, scores, labels);
  }
  if (was_training) model->train();
}

std::vector<ScoringWindow> eval_windows(const SequenceDataset& shard, Split split) {
  std::vector<ScoringWindow> windows;
  for (int64_t u = 0; u < shard.num_local_users(); ++u) {
    if (!shard.has_eval(u)) continue;
    const EvalExample ex = shard.example(u, split);
    windows.push_back({u, ex.history, ex.target});
  }
  return windows;
}

std::vector<ScoringWindow> training_prefix_windows(const SequenceDataset& shard) {
  std::vector<ScoringWindow> windows;
  for (int64_t u = 0; u < shard.num_local_users(); ++u) {
    const auto train = shard.train_items(u);
    for (int64_t i = 2; i <= train.size; ++i) windows.push_back({u, ItemSpan{train.data, i - 1}, train[i - 1]});
  }
  return windows;
}

void for_each_scored_batch(LruRec& model, const SequenceDataset& shard, const ScoringOptions& options,
                           const ScoredBatchConsumer& consume) {
  const auto windows = eval_windows(shard, options.split);
  for_each_scored_window(
      model, windows, options,
      [&](const std::vector<int64_t>& ids, const torch::Tensor& scores, const torch::Tensor& labels) {
        std::vector<int64_t> users;
        for (const auto i : ids) users.push_back(windows[static_cast<size_t>(i)].user);
        consume(users, scores, labels);
      });
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
