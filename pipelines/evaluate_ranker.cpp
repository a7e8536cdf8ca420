#include "pipelines/evaluate_ranker.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>

#include "core/candidates_file.h"
#include "core/error.h"
#include "core/ranking_metrics.h"
#include "core/sequence_dataset.h"
#include "pipelines/ranker_examples.h"
#include "pipelines/ranker_scoring.h"
#include "pipelines/metrics_file.h"
#include "pipelines/ranker_setup.h"

namespace llamarec {

namespace {

std::map<std::string, double> scaled(const std::map<std::string, double>& m, double factor) {
  std::map<std::string, double> out;
  for (const auto& [k, v] : m) out[k] = v * factor;
  return out;
}

nlohmann::json to_json(const std::map<std::string, double>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

void log_row(const std::string& title, const std::map<std::string, double>& m) {
  spdlog::info("{:<21} MRR@5 {:.4f} NDCG@5 {:.4f} Recall@5 {:.4f} | MRR@10 {:.4f} NDCG@10 {:.4f} Recall@10 {:.4f}",
               title, m.at("MRR@5"), m.at("NDCG@5"), m.at("Recall@5"), m.at("MRR@10"), m.at("NDCG@10"),
               m.at("Recall@10"));
}

}  // namespace

RankerMetrics run_evaluate_ranker(const Config& config, Communicator& comm, const std::string& split_name) {
  if (split_name != "test" && split_name != "val") fail("evaluate ranker: split '{}' is not test or val", split_name);
  const auto split = split_name == "val" ? Split::kVal : Split::kTest;
  const auto& rc = config.ranker;
  const auto start = std::chrono::steady_clock::now();
  const auto dataset_path = config.in_run_dir(config.data.dataset);
  const auto adapter_dir = config.in_run_dir(rc.adapter);
  const auto shard = SequenceDataset::open_shard(dataset_path, comm.rank(), comm.size());
  const auto candidates =
      read_ranker_candidates(config.in_run_dir(config.retrieval.candidates), shard, rc.num_candidates);
  auto setup = make_ranker_setup(config, comm, shard.titles());
  setup.model->load_adapter(adapter_dir);
  const PromptBuilder prompts(*setup.tokenizer, shard.titles(), setup.train_letter_ids, setup.prompt_options);
  const auto examples = make_ranker_eval_examples(shard, candidates, split, rc.num_candidates);
  const auto eval = evaluate_ranker(*setup.model, prompts, shard, examples, setup.verbalizer_ids, rc.eval_batch_size,
                                    {1, 5, 10}, setup.positions);

  RankerMetrics out;
  out.subset_users = eval.ranker.count();
  out.users = (split == Split::kVal ? candidates.val : candidates.test).user.numel();
  if (out.users == 0) fail("{}: no evaluation users", config.in_run_dir(config.retrieval.candidates));
  const double fraction = static_cast<double>(out.subset_users) / static_cast<double>(out.users);
  out.ranker_subset = eval.ranker.means();
  out.retriever_subset = eval.retriever.means();
  out.ranker_overall = scaled(out.ranker_subset, fraction);
  out.retriever_overall = scaled(out.retriever_subset, fraction);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  spdlog::info("ranker {} : {} of {} users have their answer in the top {} ({:.4f})", split_name, out.subset_users,
               out.users, rc.num_candidates, fraction);
  log_row("retriever (subset)", out.retriever_subset);
  log_row("LlamaRec (subset)", out.ranker_subset);
  log_row("retriever (overall)", out.retriever_overall);
  log_row("LlamaRec (overall)", out.ranker_overall);
  const auto random_subset = random_order_metrics({1, 5, 10}, rc.num_candidates);
  log_row("random order (subset)", random_subset);
  if (comm.rank() == 0) {
    nlohmann::json j = {
        {"split", split_name},
        {"users", out.users},
        {"subset_users", out.subset_users},
        {"ranks", comm.size()},
        {"adapter", adapter_dir},
        {"base_model", setup.base_model},
        {"letter_ids", enum_name(rc.letter_ids)},
        {"protocol", "verbalizer over the retriever's top-" + std::to_string(rc.num_candidates) +
                         " for users whose answer was retrieved; overall = subset * |subset| / N"},
        {"subset", to_json(out.ranker_subset)},
        {"overall", to_json(out.ranker_overall)},
        {"retriever_subset", to_json(out.retriever_subset)},
        {"retriever_overall", to_json(out.retriever_overall)},
        {"random_subset", to_json(random_subset)},
        {"random_overall", to_json(scaled(random_subset, fraction))},
        {"seconds", seconds},
    };
    update_metrics_file(config.in_run_dir(config.eval.metrics), split == Split::kVal ? "ranker_val" : "ranker", j);
  }
  comm.barrier();
  return out;
}

}  // namespace llamarec
