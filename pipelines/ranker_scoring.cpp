#include "pipelines/ranker_scoring.h"

#include "core/error.h"
#include "core/fault_injection.h"
#include "distributed/global_offset.h"

namespace llamarec {

torch::Tensor ranker_loss_sum(ShardedLlama& model, const PromptBatch& batch, bool training, PositionMode positions) {
  const int64_t b = batch.input_ids.size(0), length = batch.input_ids.size(1);
  if (length < 3) fail("ranker loss: prompts of {} tokens cannot hold a prompt, letter and EOS", length);
  const auto hidden = model.forward_hidden(batch.input_ids, batch.attention_mask, training, positions);  // [B, L, D]
  // Position L-3 ("\n") predicts the letter at L-2, which predicts EOS at L-1.
  const auto rows = hidden.narrow(1, length - 3, 2).reshape({2 * b, hidden.size(2)});  // [2B, D]
  const auto logits = model.logits(rows).to(torch::kFloat32);                          // [2B, V]
  const auto targets = batch.input_ids.narrow(1, length - 2, 2).reshape({2 * b}).to(logits.device());
  return torch::nn::functional::cross_entropy(logits, targets,
                                              torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

torch::Tensor verbalizer_scores(ShardedLlama& model, const PromptBatch& batch, const torch::Tensor& letter_ids,
                                PositionMode positions) {
  const int64_t length = batch.input_ids.size(1);
  const auto hidden = model.forward_hidden(batch.input_ids, batch.attention_mask, false, positions);
  const auto last = hidden.select(1, length - 1);  // [B, D]
  return model.logits(last, letter_ids).to(torch::kFloat32);
}

RankerEvaluation evaluate_ranker(ShardedLlama& model, const PromptBuilder& prompts, const SequenceDataset& shard,
                                 const std::vector<RankerExample>& examples, const torch::Tensor& letter_ids,
                                 int64_t batch_size, const std::vector<int64_t>& ks, PositionMode positions,
                                 int64_t max_examples) {
  auto& comm = model.comm();
  torch::NoGradGuard no_grad;
  int64_t local = static_cast<int64_t>(examples.size());
  if (max_examples > 0) {
    local = std::clamp<int64_t>(max_examples - global_offset(comm, local).first, 0, local);
  }
  auto steps = torch::tensor({(local + batch_size - 1) / batch_size},
                             torch::TensorOptions().dtype(torch::kLong).device(comm.device()));
  comm.all_reduce(steps, ReduceOp::kMax);
  const int64_t num_steps = steps.item<int64_t>();

  RankerEvaluation out{RankingMetrics(ks), RankingMetrics(ks)};
  const auto candidates = static_cast<int64_t>(letter_ids.numel());
  for (int64_t step = 0; step < num_steps; ++step) {
    fault_at(FaultPoint::kBatch, step);
    const int64_t begin = step * batch_size, end = std::min(local, begin + batch_size);
    std::vector<TokenizedPrompt> batch;
    std::vector<int64_t> answers, retriever_ranks;
    for (int64_t i = begin; i < end; ++i) {
      const auto& ex = examples[i];
      if (static_cast<int64_t>(ex.candidates.size()) != candidates)
        fail("ranker: example with {} candidates, the verbalizer has {} letters", ex.candidates.size(), candidates);
      batch.push_back(prompts.encode(example_history(shard, ex), ex.candidates));
      answers.push_back(ex.answer);
      retriever_ranks.push_back(ex.retriever_rank);
    }
    if (batch.empty()) {
      // This rank has run out; it still runs the forward so that the sharded layers' gathers match.
      batch.push_back(TokenizedPrompt{{prompts.tokenizer().bos_id() >= 0 ? prompts.tokenizer().bos_id() : 0}});
      verbalizer_scores(model, collate_prompts(batch), letter_ids, positions);
      continue;
    }
    const auto scores = verbalizer_scores(model, collate_prompts(batch), letter_ids, positions).to(torch::kCPU);
    out.ranker.add_scores(scores, torch::tensor(answers, torch::kLong));
    out.retriever.add_ranks(torch::tensor(retriever_ranks, torch::kLong));
  }
  for (auto* metrics : {&out.ranker, &out.retriever}) {
    auto sums = metrics->sums().to(comm.device());
    comm.all_reduce(sums, ReduceOp::kSum);
    metrics->set_sums(sums.to(torch::kCPU));
  }
  return out;
}

}  // namespace llamarec
