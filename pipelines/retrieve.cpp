#include "pipelines/retrieve.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "distributed/all_reduce_metrics.h"
#include "core/atomic_file.h"
#include "core/candidates_file.h"
#include "core/error.h"
#include "pipelines/compute_device.h"
#include "core/ranking_metrics.h"
#include "core/sequence_dataset.h"
#include "distributed/gather_rows.h"
#include "pipelines/retriever_checkpoint.h"
#include "pipelines/metrics_file.h"
#include "pipelines/retriever_scoring.h"

namespace llamarec {
namespace {

const std::vector<int64_t> kRetrieverKs = {1, 5, 10, 20, 50};

struct ScoredSplit {
  CandidateSplit top;  // this rank's rows until gathered
  RankingMetrics metrics{kRetrieverKs};
};

// Scores `windows` of this shard: exact metrics (all-reduced) and, when top_k > 0, the top-k
// candidates of the windows of all ranks, gathered on every rank in (user, history length) order.
// `history_end` keeps the history lengths in the result.
ScoredSplit score_windows(LruRec& model, const SequenceDataset& shard, const std::vector<ScoringWindow>& windows,
                          const Config& config, int64_t top_k, bool history_end, Communicator& comm) {
  ScoredSplit out;
  std::vector<torch::Tensor> users, ends, items, scores, labels;
  const ScoringOptions options{Split::kVal, config.retriever.max_len, true, config.retriever.eval_batch_size};
  for_each_scored_window(model, windows, options,
                         [&](const std::vector<int64_t>& ids, const torch::Tensor& s, const torch::Tensor& label) {
                           out.metrics.add_scores(s, label);
                           if (top_k <= 0) return;
                           auto [values, indices] = s.topk(top_k, 1);  // sorted, best first
                           std::vector<int64_t> global, end;
                           for (const auto i : ids) {
                             const auto& w = windows[static_cast<size_t>(i)];
                             global.push_back(shard.global_user(w.user));
                             end.push_back(w.history.size);
                           }
                           users.push_back(torch::tensor(global, torch::kLong));
                           ends.push_back(torch::tensor(end, torch::kLong));
                           items.push_back(indices);
                           scores.push_back(values);
                           labels.push_back(label);
                         });
  all_reduce_metrics(out.metrics, comm);
  if (top_k > 0) {
    auto cat = [&](std::vector<torch::Tensor>& parts, torch::Tensor empty) {
      return parts.empty() ? empty : torch::cat(parts, 0);
    };
    out.top.user = all_gather_rows(comm, cat(users, torch::zeros({0}, torch::kLong)));
    out.top.history_end = all_gather_rows(comm, cat(ends, torch::zeros({0}, torch::kLong)));
    out.top.items = all_gather_rows(comm, cat(items, torch::zeros({0, top_k}, torch::kLong)));
    out.top.scores = all_gather_rows(comm, cat(scores, torch::zeros({0, top_k}, torch::kFloat32)));
    out.top.label = all_gather_rows(comm, cat(labels, torch::zeros({0}, torch::kLong)));
    // Scoring ran in length order; the file is in (user, history length) order.
    const auto key = out.top.user * (shard.num_interactions() + 1) + out.top.history_end;
    const auto order = key.argsort();
    for (auto* t : {&out.top.user, &out.top.history_end, &out.top.items, &out.top.scores, &out.top.label})
      *t = t->index_select(0, order);
    if (!history_end) out.top.history_end = torch::Tensor();
  }
  return out;
}

ScoredSplit score_split(LruRec& model, const SequenceDataset& shard, Split split, const Config& config, int64_t top_k,
                        Communicator& comm) {
  return score_windows(model, shard, eval_windows(shard, split), config, top_k, false, comm);
}

nlohmann::json metrics_json(const MetricMap& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

void log_metrics(const std::string& title, const MetricMap& m) {
  spdlog::info(
      "{:<16} Recall@5 {:.4f} Recall@10 {:.4f} Recall@20 {:.4f} | NDCG@5 {:.4f} NDCG@10 {:.4f} | "
      "MRR@5 {:.4f} MRR@10 {:.4f}",
      title, m.at("Recall@5"), m.at("Recall@10"), m.at("Recall@20"), m.at("NDCG@5"), m.at("NDCG@10"), m.at("MRR@5"),
      m.at("MRR@10"));
}

}  // namespace

SplitMetrics run_retrieve(const Config& config, Communicator& comm) {
  const std::string dataset_path = config.in_run_dir(config.data.dataset);
  const std::string checkpoint = config.in_run_dir(config.retriever.checkpoint);
  const std::string output = config.in_run_dir(config.retrieval.candidates);
  const int64_t k = config.retrieval.top_k;
  const auto shard = SequenceDataset::open_shard(dataset_path, comm.rank(), comm.size());
  auto model = load_retriever(checkpoint);
  model->to(retriever_device(config, comm.local_rank()));
  if (model->config().num_items != shard.num_items()) {
    fail("{}: retriever was trained for {} items but {} has {}", checkpoint, model->config().num_items, dataset_path,
         shard.num_items());
  }
  if (k > shard.num_items())
    fail("{}: retrieval.top_k = {} exceeds the {} items", config.origin("retrieval.top_k"), k, shard.num_items());

  auto val = score_split(model, shard, Split::kVal, config, k, comm);
  auto test = score_split(model, shard, Split::kTest, config, k, comm);
  SplitMetrics result{val.metrics.means(), test.metrics.means(), test.metrics.count()};
  log_metrics("retriever val", result.val);
  log_metrics("retriever test", result.test);
  // The ranker's training prefixes in retriever order (ranker.train_order): one window per prefix.
  std::optional<ScoredSplit> train;
  if (config.ranker.train_order != TrainOrderChoice::kRandom) {
    train = score_windows(model, shard, training_prefix_windows(shard), config, k, true, comm);
    log_metrics("retriever train", train->metrics.means());
    spdlog::info("training prefixes: {} scored; Recall@20 {:.4f} is the share the ranker sees in retriever order",
                 train->metrics.count(), train->metrics.means().at("Recall@20"));
  }
  if (comm.rank() == 0) {
    Candidates c;
    c.k = k;
    c.num_users = shard.num_users();
    c.num_items = shard.num_items();
    c.val = val.top;
    c.test = test.top;
    if (train) c.train = train->top;
    c.attributes["dataset"] = dataset_path;
    c.attributes["retriever"] = checkpoint;
    for (const auto& [name, v] : result.val) c.attributes["val_" + name] = v;
    for (const auto& [name, v] : result.test) c.attributes["test_" + name] = v;
    write_candidates(output, c);
    spdlog::info("wrote {} (top-{} for {} val and {} test users)", output, k, c.val.user.numel(), c.test.user.numel());
  }
  comm.barrier();
  return result;
}

SplitMetrics run_evaluate_retriever(const Config& config, Communicator& comm) {
  const std::string dataset_path = config.in_run_dir(config.data.dataset);
  const auto shard = SequenceDataset::open_shard(dataset_path, comm.rank(), comm.size());
  auto model = load_retriever(config.in_run_dir(config.retriever.checkpoint));
  model->to(retriever_device(config, comm.local_rank()));
  auto val = score_split(model, shard, Split::kVal, config, 0, comm);
  auto test = score_split(model, shard, Split::kTest, config, 0, comm);
  SplitMetrics result{val.metrics.means(), test.metrics.means(), test.metrics.count()};
  log_metrics("retriever val", result.val);
  log_metrics("retriever test", result.test);
  if (comm.rank() == 0) {
    nlohmann::json j = {{"users", result.users},
                        {"ranks", comm.size()},
                        {"protocol", "full ranking over all items, input window masked, exact over all users"},
                        {"val", metrics_json(result.val)},
                        {"test", metrics_json(result.test)}};
    update_metrics_file(config.in_run_dir(config.eval.metrics), "retriever", j);
  }
  comm.barrier();
  return result;
}

}  // namespace llamarec
