#include "pipelines/evaluate_ranker.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <numeric>

#include "core/candidates_file.h"
#include "core/error.h"
#include "core/ranking_metrics.h"
#include "core/sequence_dataset.h"
#include "pipelines/metrics_file.h"
#include "pipelines/ranker_controls.h"
#include "pipelines/ranker_examples.h"
#include "pipelines/ranker_scoring.h"
#include "pipelines/ranker_setup.h"

namespace llamarec {

namespace {

const std::vector<int64_t> kKs = {1, 5, 10};
// Fusion weights tried on validation (0 = the ranker alone).
const std::vector<double> kFusionWeights = {0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0};

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
  spdlog::info("{:<28} MRR@5 {:.4f} NDCG@5 {:.4f} Recall@5 {:.4f} | MRR@10 {:.4f} NDCG@10 {:.4f} Recall@10 {:.4f}",
               title, m.at("MRR@5"), m.at("NDCG@5"), m.at("Recall@5"), m.at("MRR@10"), m.at("NDCG@10"),
               m.at("Recall@10"));
}

// Order 0 is the retriever's, orders 1..shuffles seeded shuffles of the user's candidates.
std::vector<std::vector<CandidateOrder>> evaluation_orders(const SequenceDataset& shard,
                                                           const std::vector<RankerExample>& examples, Split split,
                                                           uint64_t seed, int64_t candidates, int64_t shuffles) {
  std::vector<std::vector<CandidateOrder>> out;
  for (const auto& ex : examples) {
    auto orders = shuffled_orders(seed, split, shard.global_user(ex.local_user), candidates, shuffles);
    orders.insert(orders.begin(), retriever_order(candidates));
    out.push_back(std::move(orders));
  }
  return out;
}

std::string letters_line(const std::vector<double>& numerator, const std::vector<double>& denominator) {
  std::string out;
  for (size_t s = 0; s < numerator.size(); ++s) {
    const double v = denominator[s] > 0 ? numerator[s] / denominator[s] : 0.0;
    out += fmt::format("{}{} {:.2f}", s ? " " : "", static_cast<char>('A' + s), v);
  }
  return out;
}

nlohmann::json to_json(const SlotProfile& p) { return {{"answers", p.answers}, {"hits", p.hits}, {"picks", p.picks}}; }

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
  const auto seed = static_cast<uint64_t>(config.run.seed);
  const int64_t shuffles = std::max<int64_t>(rc.permutations, 1);
  auto score = [&](Split which, int64_t max_examples) {
    const auto examples = make_ranker_eval_examples(shard, candidates, which, rc.num_candidates);
    const auto orders = evaluation_orders(shard, examples, which, seed, rc.num_candidates, shuffles);
    const auto logits = score_in_orders(*setup.model, prompts, shard, examples, orders, setup.verbalizer_ids,
                                        rc.eval_batch_size, setup.positions, max_examples);
    return scored_examples(logits, examples, orders);
  };
  // The letter prior and the fusion weight come from validation prompts (ranker.val_users of them,
  // as in training), never from test users; evaluating the val split itself fits them on the users
  // it scores.
  const auto val = score(Split::kVal, rc.val_users);
  const auto scored = split == Split::kVal && rc.val_users == 0 ? val : score(split, 0);

  std::vector<int64_t> shuffled_ids(static_cast<size_t>(shuffles));
  std::iota(shuffled_ids.begin(), shuffled_ids.end(), 1);
  const auto prior = letter_log_prior(val, shuffled_ids, comm);
  if (!prior.defined() && rc.calibrate)
    fail("ranker.calibrate: the val subset of {} is empty, so there is no letter prior to estimate",
         config.in_run_dir(config.retrieval.candidates));
  ScoreMethod method;
  method.orders = rc.permutations == 0 ? std::vector<int64_t>{0} : shuffled_ids;
  if (rc.calibrate) method.log_prior = prior;
  const double fusion_weight = choose_fusion_weight(val, method, kFusionWeights, comm);
  if (rc.fuse_retriever) method.fusion_weight = fusion_weight;

  RankerMetrics out;
  const auto headline = method_metrics(scored, method, comm, kKs);
  out.subset_users = headline.count();
  out.users = (split == Split::kVal ? candidates.val : candidates.test).user.numel();
  if (out.users == 0) fail("{}: no evaluation users", config.in_run_dir(config.retrieval.candidates));
  const double fraction = static_cast<double>(out.subset_users) / static_cast<double>(out.users);
  out.ranker_subset = headline.means();
  out.ranker_subset_se = headline.standard_errors();
  out.ranker_overall = scaled(out.ranker_subset, fraction);
  out.retriever_subset = retriever_metrics(scored, comm, kKs).means();
  out.retriever_overall = scaled(out.retriever_subset, fraction);

  auto control = [&](const std::string& name, std::vector<int64_t> orders, bool calibrated, bool mean_probabilities,
                     double weight) {
    ScoreMethod m;
    m.orders = std::move(orders);
    m.mean_probabilities = mean_probabilities;
    if (calibrated) m.log_prior = prior;
    m.fusion_weight = weight;
    const auto metrics = method_metrics(scored, m, comm, kKs);
    out.controls.push_back({name, metrics.means(), metrics.standard_errors()});
  };
  control("retriever_order", {0}, false, false, 0.0);
  control("shuffled", {1}, false, false, 0.0);
  if (shuffles > 1) control("permutations", shuffled_ids, false, false, 0.0);
  if (shuffles > 1) control("permutations_probability_mean", shuffled_ids, false, true, 0.0);
  if (prior.defined()) {
    control("retriever_order_calibrated", {0}, true, false, 0.0);
    control("shuffled_calibrated", {1}, true, false, 0.0);
    if (shuffles > 1) control("permutations_calibrated", shuffled_ids, true, false, 0.0);
  }
  control("fused", method.orders, rc.calibrate, false, fusion_weight);
  const auto profile_retriever = slot_profile(scored, 0, comm);
  const auto profile_shuffled = slot_profile(scored, 1, comm);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const auto method_name = fmt::format(
      "{}{}{}", rc.permutations == 0 ? "retriever order" : fmt::format("{} permutations", rc.permutations),
      rc.calibrate ? ", calibrated" : "", rc.fuse_retriever ? fmt::format(", fused w {}", fusion_weight) : "");
  spdlog::info("ranker {} : {} of {} users have their answer in the top {} ({:.4f}); method: {}", split_name,
               out.subset_users, out.users, rc.num_candidates, fraction, method_name);
  const auto random_subset = random_order_metrics(kKs, rc.num_candidates);
  log_row("retriever (subset)", out.retriever_subset);
  log_row("LlamaRec (subset)", out.ranker_subset);
  log_row("random order (subset)", random_subset);
  for (const auto& c : out.controls) log_row("  control: " + c.name, c.subset);
  log_row("retriever (overall)", out.retriever_overall);
  log_row("LlamaRec (overall)", out.ranker_overall);
  spdlog::info("top-1 accuracy by the answer's letter, shuffled: {}",
               letters_line(profile_shuffled.hits, profile_shuffled.answers));
  std::vector<double> users(profile_shuffled.picks.size(), static_cast<double>(out.subset_users));
  spdlog::info("share of users whose top letter is each letter, shuffled (the letter prior): {}",
               letters_line(profile_shuffled.picks, users));
  if (comm.rank() == 0) {
    nlohmann::json controls = nlohmann::json::object();
    for (const auto& c : out.controls)
      controls[c.name] = {{"subset", to_json(c.subset)}, {"subset_se", to_json(c.subset_se)}};
    const auto prior_values = prior.defined() ? prior.exp().contiguous() : torch::zeros({0}, torch::kFloat32);
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
        {"method",
         {{"permutations", rc.permutations},
          {"calibrate", rc.calibrate},
          {"fuse_retriever", rc.fuse_retriever},
          {"fusion_weight_on_val", fusion_weight},
          {"name", method_name}}},
        {"subset", to_json(out.ranker_subset)},
        {"subset_se", to_json(out.ranker_subset_se)},
        {"overall", to_json(out.ranker_overall)},
        {"retriever_subset", to_json(out.retriever_subset)},
        {"retriever_overall", to_json(out.retriever_overall)},
        {"random_subset", to_json(random_subset)},
        {"random_overall", to_json(scaled(random_subset, fraction))},
        {"controls", controls},
        {"letter_prior_on_val",
         std::vector<double>(prior_values.data_ptr<float>(), prior_values.data_ptr<float>() + prior_values.numel())},
        {"slot_profile", {{"retriever_order", to_json(profile_retriever)}, {"shuffled", to_json(profile_shuffled)}}},
        {"seconds", seconds},
    };
    update_metrics_file(config.in_run_dir(config.eval.metrics), split == Split::kVal ? "ranker_val" : "ranker", j);
  }
  comm.barrier();
  return out;
}

}  // namespace llamarec
