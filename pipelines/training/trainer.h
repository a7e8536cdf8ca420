// The one training loop (after torchtitan's Trainer): data-parallel steps over a GlobalBatchPlan,
// the gradient all-reduce (DataParallel), grad-norm clip, LR schedule, validation every
// val_interval steps with best tracking and early stopping, a resumable state written at every
// validation and every checkpoint_interval steps (Checkpointer: a resumed run is the uninterrupted
// one, bit for bit), an optional moving average of the parameters that validation sees, and a guard that skips updates
// with a non-finite loss or gradient. What is being trained is a TrainingTask: its parameters and optimizer, the loss
// over a rank's examples of a step, validation and what to keep of the best.
//
// Per step, on every rank: local batch -> loss summed over its label tokens -> backward -> one
// all-reduce of gradients, token count and loss -> gradient / global count -> clip -> update. The
// update is therefore the single-process one for any number of ranks.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "core/ranking_metrics.h"
#include "distributed/communicator.h"
#include "pipelines/config.h"
#include "pipelines/training/lr_schedule.h"
#include "pipelines/training/seed_policy.h"
#include "pipelines/training/training_state.h"

namespace llamarec {

class TrainingTask {
 public:
  virtual ~TrainingTask() = default;

  // This rank's training examples; they are numbered globally in rank order.
  virtual int64_t num_local_examples() const = 0;
  // The trainable tensors, in the same order on every rank (the all-reduce bucket's layout).
  virtual std::vector<torch::Tensor> parameters() const = 0;
  // The same tensors by name, for the checkpoint.
  virtual std::map<std::string, torch::Tensor> named_parameters() const = 0;
  virtual torch::optim::Optimizer& optimizer() = 0;

  struct Loss {
    torch::Tensor sum;  // scalar: the loss summed over the label tokens of the batch
    double weight = 0;  // the number of those label tokens
  };
  // The loss over this rank's examples of a step (local indices); the loop runs backward. Called
  // with a non-empty batch only, unless the task shares batches across ranks (below): then every
  // step, and an undefined `sum` means this rank's share of the step was empty.
  virtual Loss loss(const std::vector<int64_t>& local_batch) = 0;
  // True when loss() redistributes each global batch over the ranks (distributed/balanced_rows.h).
  virtual bool shares_batches() const { return false; }
  // A step in which this rank owns no example: whatever keeps its collectives matched with the
  // other ranks' (a sharded model's gathers), contributing no gradient. Nothing by default.
  virtual void empty_step() {}

  struct Validation {
    MetricMap metrics;
    std::string note;  // appended to the validation log line
  };
  virtual Validation validate() = 0;
  // Keeps the current parameters as the best (called on rank 0 when validation improved).
  virtual void save_best() = 0;
  // Appended to the progress line, e.g. a throughput; `seconds` since this call started.
  virtual std::string progress_note(double seconds) const { return ""; }
  // Input tokens this rank's loss() calls have run through the model (0 where tokens mean nothing).
  virtual int64_t tokens_seen() const { return 0; }
};

struct TrainingOptions {
  std::string name;         // "retriever", "ranker": logs and progress
  std::string data_source;  // where the examples come from (the dataset file), for errors
  int64_t batch_size = 1;   // global
  int64_t epochs = 1;
  int64_t max_steps = 0;  // 0: all of `epochs`
  int64_t val_interval = 1;
  int64_t patience = 1;
  int64_t checkpoint_interval = 0;  // also write the training state every this many steps; 0: at validations only
  int64_t max_bad_steps = 1;        // consecutive non-finite steps (skipped) that end the run
  double clip_grad_norm = 0;        // 0 = off
  LrSchedule lr;                    // total_steps is set by the loop
  uint64_t seed = 0;
  DropoutStream dropout_stream = DropoutStream::kRetriever;
  std::string selection_metric;  // "Recall@10", "NDCG@10": model selection
  // > 0: validation and the kept best use an exponential moving average of the parameters with this
  // decay (parameter_average.h); 0: the parameters as trained.
  double average_decay = 0;
  // The step-0 validation of the untrained model is a baseline row of the curve, never the best
  // (the ranker: its untrained adapter scores the letter prior, not ranking).
  bool step0_is_baseline = false;
  std::vector<std::string> logged_metrics;  // shown in the validation log line
  std::string state_dir;                    // <checkpoint>.state
  std::string curve_path;                   // <checkpoint>.curve.json
  std::string scalars_path;                 // metrics.jsonl (empty: none)
  ConfigValues identity;                    // what a saved state must match to be resumed (run_identity.h)
};

struct TrainingResult {
  int64_t steps = 0;
  int64_t steps_run = 0;  // by this call (fewer than `steps` after a resume)
  int64_t best_step = 0;
  double best_metric = 0;
  double seconds = 0;  // of training, over every call
  double seconds_to_best = 0;
  double seconds_per_step = 0;    // this call's training steps only (validation excluded)
  double validation_seconds = 0;  // this call
  bool early_stopped = false;
  int64_t skipped_steps = 0;  // non-finite loss or gradient, update skipped
  int64_t tokens = 0;         // TrainingTask::tokens_seen() of this rank, this call
  std::vector<ValidationPoint> curve;
};

// The loop settings that every trainer's config section has under the same names (batch_size,
// epochs, max_steps, val_interval, patience, checkpoint_interval, max_bad_steps, clip_grad_norm, lr,
// lr_schedule, warmup_steps), and the state and curve files beside `checkpoint`. The trainer adds
// the rest (name, metrics, identity).
template <class Section>
TrainingOptions training_options_from(const Section& section, int64_t seed, const std::string& checkpoint) {
  TrainingOptions o;
  o.batch_size = section.batch_size;
  o.epochs = section.epochs;
  o.max_steps = section.max_steps;
  o.val_interval = section.val_interval;
  o.patience = section.patience;
  o.checkpoint_interval = section.checkpoint_interval;
  o.max_bad_steps = section.max_bad_steps;
  o.clip_grad_norm = section.clip_grad_norm;
  o.lr.lr = section.lr;
  o.lr.kind = section.lr_schedule;
  o.lr.warmup_steps = section.warmup_steps;
  o.seed = static_cast<uint64_t>(seed);
  o.state_dir = checkpoint + ".state";
  o.curve_path = checkpoint + ".curve.json";
  return o;
}

// Trains `task` to the end of its schedule or to early stopping, resuming from `state_dir` when a
// state for the same identity is there. Collective: every rank calls it.
TrainingResult run_training(TrainingTask& task, const TrainingOptions& options, Communicator& comm);

}  // namespace llamarec
