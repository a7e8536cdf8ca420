#include "pipelines/train_ranker.h"

#include <spdlog/spdlog.h>

#include "core/candidates_file.h"
#include "core/profile_scope.h"
#include "core/sequence_dataset.h"
#include "distributed/global_offset.h"
#include "pipelines/ranker_batch_share.h"
#include "pipelines/ranker_controls.h"
#include "pipelines/ranker_examples.h"
#include "pipelines/ranker_scoring.h"
#include "pipelines/ranker_setup.h"
#include "pipelines/training/fused_adamw.h"
#include "pipelines/training/run_identity.h"

namespace llamarec {
namespace {

class RankerTask : public TrainingTask {
 public:
  RankerTask(const Config& config, Communicator& comm)
      : rc_(config.ranker),
        adapter_dir_(config.in_run_dir(rc_.adapter)),
        shard_(SequenceDataset::open_shard(config.in_run_dir(config.data.dataset), comm.rank(), comm.size())),
        candidates_(read_ranker_candidates(config.in_run_dir(config.retrieval.candidates), shard_, rc_.num_candidates)),
        setup_(make_ranker_setup(config, comm, shard_.titles())),
        model_(*setup_.model),
        comm_(comm),
        prompt_cost_(model_.config()),
        prompts_(*setup_.tokenizer, shard_.titles(), setup_.train_letter_ids, setup_.prompt_options),
        examples_(make_ranker_train_examples(shard_, rc_.num_candidates, static_cast<uint64_t>(config.run.seed),
                                             rc_.train_order, &candidates_,
                                             config.in_run_dir(config.retrieval.candidates))),
        val_examples_(make_ranker_eval_examples(shard_, candidates_, Split::kVal, rc_.num_candidates)) {
    for (const auto& ex : val_examples_) {
      val_orders_.push_back({rc_.val_order == CandidateOrderChoice::kRetriever
                                 ? retriever_order(rc_.num_candidates)
                                 : shuffled_orders(static_cast<uint64_t>(config.run.seed), Split::kVal,
                                                   shard_.global_user(ex.local_user), rc_.num_candidates, 1)
                                       .front()});
    }
    const auto val_total = global_offset(comm, static_cast<int64_t>(val_examples_.size())).total;
    val_users_ = rc_.val_users > 0 ? std::min(rc_.val_users, val_total) : val_total;
    const auto& lora = config.lora;
    model_.apply_lora(lora, static_cast<uint64_t>(config.run.seed));
    optimizer_ = std::make_unique<FusedAdamW>(model_.lora_parameters(),
                                              torch::optim::AdamWOptions(rc_.lr).weight_decay(rc_.weight_decay));
    spdlog::info(
        "ranker: {} training prompts ({} candidates); val subset {} users (validating on {}, candidates in {} order); "
        "LoRA r {} on {}",
        global_offset(comm, static_cast<int64_t>(examples_.size())).total, enum_name(rc_.train_order), val_total,
        val_users_, enum_name(rc_.val_order), lora.r, fmt::join(lora.target_modules, ","));
  }

  int64_t num_local_examples() const override { return static_cast<int64_t>(examples_.size()); }
  std::vector<torch::Tensor> parameters() const override { return model_.lora_parameters(); }
  std::map<std::string, torch::Tensor> named_parameters() const override { return model_.lora_tensors(); }
  torch::optim::Optimizer& optimizer() override { return *optimizer_; }

  // Each rank computes a share of the global batch balanced by its prompts' cost, whoever owns
  // the examples: the prompts travel as token ids (distributed/balanced_rows.h).
  bool shares_batches() const override { return true; }
  Loss loss(const std::vector<int64_t>& local_batch) override {
    std::vector<TokenizedPrompt> share;
    {
      const ProfileScope profile("ranker.prompts");
      std::vector<TokenizedPrompt> prompts;
      for (const auto i : local_batch) {
        const auto& ex = examples_[i];
        prompts.push_back(prompts_.encode_train(example_history(shard_, ex), ex.candidates, ex.answer));
      }
      share = balanced_prompt_share(comm_, prompts, prompt_cost_, rc_.batch_size);
    }
    if (share.empty()) return {};
    for (const auto& p : share) tokens_seen_ += static_cast<int64_t>(p.ids.size());
    // Two label tokens per prompt: the answer letter and EOS.
    return {ranker_loss_sum(model_, collate_prompts(share), true, setup_.positions),
            2.0 * static_cast<double>(share.size())};
  }

  void empty_step() override {
    // No example of this batch lives here: a zero-weight step so that the sharded layers' gathers
    // (forward and backward) match the other ranks'.
    const int64_t bos = setup_.tokenizer->bos_id() >= 0 ? setup_.tokenizer->bos_id() : 0;
    auto dummy = collate_prompts({TokenizedPrompt{{bos, bos, bos}}});
    (ranker_loss_sum(model_, dummy, true, setup_.positions) * 0.0).backward();
  }

  Validation validate() override {
    const auto logits = score_in_orders(model_, prompts_, shard_, val_examples_, val_orders_, setup_.verbalizer_ids,
                                        rc_.eval_batch_size, setup_.positions, val_users_);
    const auto scored = scored_examples(logits, val_examples_, val_orders_);
    ScoreMethod method;
    method.orders = {0};
    const auto ranker = method_metrics(scored, method, comm_, {1, 5, 10}).means();
    const auto retriever = retriever_metrics(scored, comm_, {10}).means();
    return {ranker, fmt::format("(retriever NDCG@10 {:.4f})", retriever.at("NDCG@10"))};
  }
  void save_best() override { model_.save_adapter(adapter_dir_, setup_.base_model); }

  std::string progress_note(double seconds) const override {
    return fmt::format("{:.0f} tok/s/rank", seconds > 0 ? tokens_seen_ / seconds : 0.0);
  }
  int64_t tokens_seen() const override { return tokens_seen_; }

 private:
  const RankerConfig& rc_;
  std::string adapter_dir_;
  SequenceDataset shard_;
  Candidates candidates_;
  RankerSetup setup_;
  ShardedLlama& model_;
  Communicator& comm_;
  PromptCost prompt_cost_;
  PromptBuilder prompts_;
  std::vector<RankerExample> examples_;
  std::vector<RankerExample> val_examples_;
  std::vector<std::vector<CandidateOrder>> val_orders_;  // one per example: ranker.val_order
  int64_t val_users_ = 0;
  std::unique_ptr<FusedAdamW> optimizer_;
  int64_t tokens_seen_ = 0;
};

}  // namespace

ConfigValues ranker_run_identity(const Config& config) {
  auto inputs = ranker_base_files(config);
  inputs.insert(inputs.begin(), {{"dataset", config.in_run_dir(config.data.dataset)},
                                 {"candidates", config.in_run_dir(config.retrieval.candidates)}});
  return training_identity(
      config, {"ranker.", "lora."},
      {"ranker.max_steps", "ranker.patience", "ranker.checkpoint_interval", "ranker.max_bad_steps", "ranker.val_users",
       "ranker.eval_batch_size", "ranker.permutations", "ranker.calibrate", "ranker.fuse_retriever"},
      inputs);
}

TrainingResult train_ranker(const Config& config, Communicator& comm) {
  const auto& rc = config.ranker;
  RankerTask task(config, comm);
  const auto adapter_dir = config.in_run_dir(rc.adapter);
  auto o = training_options_from(rc, config.run.seed, adapter_dir);
  o.name = "ranker";
  o.data_source = config.in_run_dir(config.data.dataset);
  o.dropout_stream = DropoutStream::kRanker;
  o.selection_metric = "NDCG@10";
  o.step0_is_baseline = true;
  o.logged_metrics = {"NDCG@10", "Recall@10", "MRR@10"};
  o.identity = ranker_run_identity(config);
  o.scalars_path = config.in_run_dir(config.eval.scalars);
  const auto result = run_training(task, o, comm);
  spdlog::info("ranker adapter: {}", adapter_dir);
  return result;
}

}  // namespace llamarec
