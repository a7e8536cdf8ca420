#include "pipelines/score_prompts.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/atomic_file.h"
#include "core/candidates_file.h"
#include "core/error.h"
#include "core/sequence_dataset.h"
#include "pipelines/ranker_examples.h"
#include "pipelines/ranker_scoring.h"
#include "pipelines/ranker_setup.h"

namespace llamarec {

namespace {

std::vector<float> to_vector(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU, torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

}  // namespace

void run_score_prompts(const Config& config, Communicator& comm, const ScorePromptsOptions& options) {
  if (options.split != "test" && options.split != "val") fail("score: split '{}' is not test or val", options.split);
  if (options.users < 0) fail("score: --users must be >= 0, got {}", options.users);
  if (options.output.empty()) fail("score: no output file (--output)");
  const auto split = options.split == "val" ? Split::kVal : Split::kTest;
  const auto& rc = config.ranker;
  // The whole dataset on every rank: all ranks run the same prompts through the sharded base.
  const auto dataset = SequenceDataset::open_shard(config.in_run_dir(config.data.dataset), 0, 1);
  const auto candidates_path = config.in_run_dir(config.retrieval.candidates);
  const auto candidates = read_ranker_candidates(candidates_path, dataset, rc.num_candidates);
  auto examples = make_ranker_eval_examples(dataset, candidates, split, rc.num_candidates);
  if (examples.empty()) fail("{}: the {} split has no user whose answer was retrieved", candidates_path, options.split);
  if (options.users > 0 && static_cast<int64_t>(examples.size()) > options.users) examples.resize(options.users);

  auto setup = make_ranker_setup(config, comm, dataset.titles());
  std::string adapter = options.adapter.empty() ? config.in_run_dir(rc.adapter) : options.adapter;
  if (adapter != "none") setup.model->load_adapter(adapter);
  const PromptBuilder prompts(*setup.tokenizer, dataset.titles(), setup.train_letter_ids, setup.prompt_options);

  torch::NoGradGuard no_grad;
  nlohmann::json records = nlohmann::json::array();
  for (const auto& ex : examples) {
    const auto history = example_history(dataset, ex);
    const auto eval = prompts.encode(history, ex.candidates);
    const auto train = prompts.encode_train(history, ex.candidates, ex.answer);
    const auto scores = verbalizer_scores(*setup.model, collate_prompts({eval}), setup.verbalizer_ids,
                                          setup.positions);  // [1, C] fp32
    // ranker_loss_sum sums the letter's and EOS's cross-entropy; /2 is the mean over the two labels,
    // as a causal LM's loss with every other label ignored.
    const double loss =
        ranker_loss_sum(*setup.model, collate_prompts({train}), false, setup.positions).item<double>() / 2.0;
    records.push_back({{"user", dataset.global_user(ex.local_user)},
                       {"candidates", ex.candidates},
                       {"answer_slot", ex.answer},
                       {"text", prompts.text(history, ex.candidates)},
                       {"input_ids", eval.ids},
                       {"truncated", eval.truncated},
                       {"train_truncated", train.truncated},
                       {"train_ids", train.ids},
                       {"letter_scores", to_vector(scores[0])},
                       {"loss", loss}});
  }
  if (comm.rank() != 0) return;
  const auto ids = setup.verbalizer_ids.to(torch::kCPU, torch::kInt64).contiguous();
  const std::vector<int64_t> letter_ids(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
  const nlohmann::json out = {{"base_model", setup.base_model},
                              {"adapter", adapter},
                              {"dtype", std::string(c10::toString(setup.model->dtype()))},
                              {"device", setup.model->device().str()},
                              {"world_size", comm.size()},
                              {"split", options.split},
                              {"letter_ids", letter_ids},
                              {"positions", setup.positions == PositionMode::kArange ? "arange" : "from_mask"},
                              {"prompts", records}};
  write_file_atomic(options.output, out.dump(1) + "\n");
  spdlog::info("score: {} prompts ({}, {}, adapter {}) -> {}", records.size(),
               std::string(c10::toString(setup.model->dtype())), setup.model->device().str(), adapter, options.output);
}

}  // namespace llamarec
