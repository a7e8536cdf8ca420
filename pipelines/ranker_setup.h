// What train-ranker and evaluate-ranker share: the device and dtype from the config, and the
// tokenizer, letter ids, prompt options and sharded base model built from it.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "pipelines/compute_device.h"
#include "pipelines/config.h"
#include "core/tokenizer.h"
#include "distributed/communicator.h"
#include "distributed/fsdp_llama.h"
#include "models/llama_rope.h"
#include "pipelines/ranker_prompt.h"

namespace llamarec {

struct RankerSetup {
  std::string base_model;  // the directory loaded: ranker.model, or the built-in Llama's
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<int64_t> train_letter_ids;  // as they follow "\n": the training targets
  torch::Tensor verbalizer_ids;           // [C]: what the verbalizer reads (ranker.letter_ids)
  std::unique_ptr<ShardedLlama> model;
  PositionMode positions = PositionMode::kArange;
  PromptOptions prompt_options;
};

// ranker.dtype: auto (bfloat16 on CUDA, float32 on CPU), float32 or bfloat16.
torch::Dtype ranker_dtype(const Config& config, const torch::Device& device);
// Loads tokenizer and base model (each rank only its shards); no adapter yet. With ranker.model
// empty the base is the built-in tiny Llama (pipelines/builtin_llama.h), built from `titles` on
// first use.
RankerSetup make_ranker_setup(const Config& config, Communicator& comm, const std::vector<std::string>& titles);

}  // namespace llamarec
