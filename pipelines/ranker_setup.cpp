#include "pipelines/ranker_setup.h"

#include <filesystem>

#include "core/error.h"
#include "pipelines/builtin_llama.h"

namespace fs = std::filesystem;

namespace llamarec {

torch::Dtype ranker_dtype(const Config& config, const torch::Device& device) {
  switch (config.ranker.dtype) {
    case ComputeDtype::kFloat32:
      return torch::kFloat32;
    case ComputeDtype::kBFloat16:
      return torch::kBFloat16;
    case ComputeDtype::kAuto:
      break;
  }
  return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
}

RankerSetup make_ranker_setup(const Config& config, Communicator& comm, const std::vector<std::string>& titles) {
  const auto& rc = config.ranker;
  RankerSetup s;
  if (rc.model.empty()) {
    s.base_model = ensure_builtin_llama(config, comm, titles);
  } else {
    if (!fs::is_directory(rc.model))
      fail("{}: ranker.model '{}' is not a directory", config.origin("ranker.model"), rc.model);
    s.base_model = rc.model;
  }
  const auto tokenizer_path =
      rc.tokenizer.empty() ? (fs::path(s.base_model) / "tokenizer.model").string() : rc.tokenizer;
  s.tokenizer = std::make_unique<Tokenizer>(tokenizer_path);
  const auto letters = candidate_letters(static_cast<int>(rc.num_candidates));
  s.train_letter_ids = letter_token_ids(*s.tokenizer, letters, "\n");
  const auto read_ids = rc.letter_ids == LetterIds::kDummyPrefix ? letter_token_ids_dummy_prefix(*s.tokenizer, letters)
                                                                 : s.train_letter_ids;
  s.verbalizer_ids = torch::tensor(read_ids, torch::kLong);
  s.positions = rc.positions;
  s.prompt_options.max_history = rc.max_history;
  s.prompt_options.max_title_tokens = rc.max_title_tokens;
  s.prompt_options.max_text_tokens = rc.max_text_tokens;
  s.model = ShardedLlama::load(s.base_model, comm, ranker_dtype(config, comm.device()), comm.device(),
                               config.fsdp.shard, rc.quantization);
  s.model->set_prefetch(config.fsdp.prefetch);
  if (s.tokenizer->vocab_size() != s.model->config().vocab_size)
    fail("{}: tokenizer has {} pieces but the model's vocab_size is {}", tokenizer_path, s.tokenizer->vocab_size(),
         s.model->config().vocab_size);
  return s;
}

}  // namespace llamarec
