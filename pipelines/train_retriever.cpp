#include "pipelines/train_retriever.h"

#include <algorithm>

#include "core/sequence_dataset.h"
#include "distributed/balanced_rows.h"
#include "models/lru_params.h"
#include "pipelines/compute_device.h"
#include "pipelines/retriever_checkpoint.h"
#include "pipelines/retriever_examples.h"
#include "pipelines/retriever_scoring.h"
#include "pipelines/training/fused_adamw.h"
#include "pipelines/training/run_identity.h"

namespace llamarec {
namespace {

class RetrieverTask : public TrainingTask {
 public:
  RetrieverTask(const Config& config, Communicator& comm)
      : rc_(config.retriever),
        comm_(comm),
        checkpoint_(config.in_run_dir(rc_.checkpoint)),
        shard_(SequenceDataset::open_shard(config.in_run_dir(config.data.dataset), comm.rank(), comm.size())),
        examples_(make_retriever_examples(shard_, rc_.max_len)),
        device_(retriever_device(config, comm.local_rank())),
        model_(initial_model(config, shard_.num_items())),
        optimizer_(lru_adamw_param_groups(
            *model_, torch::optim::AdamWOptions(rc_.lr).eps(rc_.adam_eps).weight_decay(rc_.weight_decay))),
        val_options_{Split::kVal, rc_.max_len, rc_.val_exclude_history, rc_.eval_batch_size} {}

  int64_t num_local_examples() const override { return static_cast<int64_t>(examples_.size()); }
  std::vector<torch::Tensor> parameters() const override { return model_->parameters(); }
  std::map<std::string, torch::Tensor> named_parameters() const override {
    std::map<std::string, torch::Tensor> out;
    for (const auto& item : model_->named_parameters()) out[item.key()] = item.value();
    return out;
  }
  torch::optim::Optimizer& optimizer() override { return optimizer_; }

  // Each rank computes a share of the global batch balanced by label count, whoever owns the
  // examples: the rows travel as [tokens | labels].
  bool shares_batches() const override { return true; }
  Loss loss(const std::vector<int64_t>& local_batch) override {
    const int64_t L = rc_.max_len;
    const auto batch = collate_retriever_examples(shard_, examples_, local_batch, L);
    const auto costs = (batch.labels > 0).sum(1).clamp_min(1).to(torch::kDouble);  // [n]
    const auto share = balanced_share(comm_, torch::cat({batch.tokens, batch.labels}, 1), costs, rc_.batch_size);
    if (share.rows.size(0) == 0) return {};
    const auto rows = share.rows.to(device_);
    const auto tokens = rows.narrow(1, 0, L), labels = rows.narrow(1, L, L);  // [m, L] each
    return {model_->loss_sum(tokens, labels), static_cast<double>((labels > 0).sum().item<int64_t>())};
  }

  Validation validate() override {
    return {evaluate_retriever(model_, shard_, val_options_, {1, 5, 10, 20}, comm_).means(), ""};
  }
  void save_best() override { save_retriever(checkpoint_, model_); }
  torch::Device device() const { return device_; }

 private:
  // Seeded, so that every rank builds the same initial parameters; dropout draws then differ per
  // rank, as in any data-parallel run. Drawn on the CPU, then moved: the same start on any device.
  LruRec initial_model(const Config& config, int64_t num_items) const {
    torch::manual_seed(static_cast<uint64_t>(config.run.seed));
    LruRec model(lru_config_from(rc_, num_items, config.origin("retriever.") + ": [retriever]"));
    model->to(device_);
    return model;
  }

  const RetrieverConfig& rc_;
  Communicator& comm_;
  std::string checkpoint_;
  SequenceDataset shard_;
  std::vector<RetrieverExample> examples_;
  torch::Device device_;
  LruRec model_;
  FusedAdamW optimizer_;
  ScoringOptions val_options_;
};

}  // namespace

ConfigValues retriever_run_identity(const Config& config, torch::Device device) {
  Config chosen = config;
  chosen.retriever.device = device.is_cuda() ? DeviceChoice::kCuda : DeviceChoice::kCpu;
  return training_identity(chosen, {"retriever."},
                           {"retriever.epochs", "retriever.max_steps", "retriever.patience",
                            "retriever.checkpoint_interval", "retriever.max_bad_steps", "retriever.eval_batch_size"},
                           {{"dataset", config.in_run_dir(config.data.dataset)}});
}

TrainingResult train_retriever(const Config& config, Communicator& comm) {
  const auto& rc = config.retriever;
  RetrieverTask task(config, comm);
  auto o = training_options_from(rc, config.run.seed, config.in_run_dir(rc.checkpoint));
  o.name = "retriever";
  o.data_source = config.in_run_dir(config.data.dataset);
  o.dropout_stream = DropoutStream::kRetriever;
  o.selection_metric = rc.select_on;
  o.average_decay = rc.average_decay;
  o.logged_metrics = {"Recall@10", "NDCG@10", "MRR@10"};
  if (std::find(o.logged_metrics.begin(), o.logged_metrics.end(), rc.select_on) == o.logged_metrics.end())
    o.logged_metrics.push_back(rc.select_on);
  o.identity = retriever_run_identity(config, task.device());
  o.scalars_path = config.in_run_dir(config.eval.scalars);
  return run_training(task, o, comm);
}

}  // namespace llamarec
