// `llamarec train-ranker`: LlamaRec's ranker (spec §3): LoRA on a Llama whose frozen base weights are
// sharded FSDP-style over the ranks (distributed/fsdp_llama.h), trained with the loss on the answer
// letter and EOS only. Each global batch is split across ranks (the examples a rank's users own);
// the LoRA gradients, the label-token count and the loss travel in one flat all-reduce, so the
// update equals the single-process one for any number of ranks. AdamW with linear warmup and decay,
// global grad-norm clip, validation (NDCG@10 on the val subset) every val_interval steps, best
// adapter kept in PEFT format, early stopping, resumable state.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/tokenizer.h"
#include "distributed/communicator.h"
#include "distributed/fsdp_llama.h"
#include "models/llama_rope.h"
#include "pipelines/ranker_prompt.h"

namespace llamarec {

struct RankerValidationPoint {
  int64_t step = 0;
  double train_loss = 0;  // mean over label tokens since the previous validation
  double ndcg10 = 0;
  double recall10 = 0;
  double mrr10 = 0;
  double lr = 0;
  double seconds = 0;
};

struct RankerTrainResult {
  int64_t steps = 0;
  int64_t best_step = 0;
  double best_ndcg10 = 0;
  double seconds = 0;
  double seconds_per_step = 0;
  bool early_stopped = false;
  std::vector<RankerValidationPoint> curve;
};

// What train-ranker and evaluate --stage ranker share: tokenizer, letter ids, prompt builder and
// the sharded model, built from the config.
struct RankerSetup {
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<int64_t> train_letter_ids;  // as they follow "\n": the training targets
  torch::Tensor verbalizer_ids;           // [C]: what the verbalizer reads (ranker.letter_ids)
  std::unique_ptr<ShardedLlama> model;
  PositionMode positions = PositionMode::kArange;
  PromptOptions prompt_options;
};

// distributed.device: auto (cuda when available), cpu or cuda.
torch::Device ranker_device(const Config& config);
// A communicator for the ranker's tensors: distributed.backend on ranker_device().
std::unique_ptr<Communicator> make_ranker_communicator(const Config& config);
torch::Dtype ranker_dtype(const Config& config, const torch::Device& device);
// Loads tokenizer and base model (each rank only its shards); no adapter yet.
RankerSetup make_ranker_setup(const Config& config, Communicator& comm);

RankerTrainResult train_ranker(const Config& config, Communicator& comm);

}  // namespace llamarec
