#include "pipelines/ranker_scoring.h"

#include <algorithm>

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

namespace {

// prompts[e][o] -> letter logits [E, O, C]: the common prefix of each example's prompts once into a
// KV cache, then every order's remainder as a continuation of its example's cached prefix.
torch::Tensor score_with_shared_prefix(ShardedLlama& model, const std::vector<std::vector<TokenizedPrompt>>& prompts,
                                       const torch::Tensor& letter_ids) {
  const auto num_examples = static_cast<int64_t>(prompts.size());
  const auto num_orders = static_cast<int64_t>(prompts.front().size());
  std::vector<TokenizedPrompt> heads, tails;
  for (const auto& example : prompts) {
    const size_t n = shared_prefix_length(example);
    heads.push_back({std::vector<int64_t>(example.front().ids.begin(), example.front().ids.begin() + n)});
    for (const auto& p : example) tails.push_back({std::vector<int64_t>(p.ids.begin() + n, p.ids.end())});
  }
  const auto head = collate_prompts(heads);  // [E, Lh]
  const auto tail = collate_prompts(tails);  // [E*O, Lt]
  KVCache cache(model.config().num_hidden_layers);
  // Positions from the mask: the padding between a head and its tail must not shift the tail.
  model.forward_hidden(head.input_ids, head.attention_mask, false, PositionMode::kFromMask, &cache);
  cache.repeat_batch(num_orders);
  const auto mask = torch::cat({head.attention_mask.repeat_interleave(num_orders, 0), tail.attention_mask}, 1);
  const auto hidden = model.forward_hidden(tail.input_ids, mask, false, PositionMode::kFromMask, &cache);
  const auto last = hidden.select(1, hidden.size(1) - 1);  // [E*O, D]
  return model.logits(last, letter_ids).view({num_examples, num_orders, -1});
}

}  // namespace

size_t shared_prefix_length(const std::vector<TokenizedPrompt>& prompts) {
  if (prompts.empty() || prompts.front().ids.empty()) return 0;
  const auto& first = prompts.front().ids;
  size_t n = first.size() - 1;
  for (const auto& p : prompts) {
    if (p.ids.empty()) return 0;
    n = std::min(n, p.ids.size() - 1);
    n = static_cast<size_t>(std::mismatch(first.begin(), first.begin() + n, p.ids.begin()).first - first.begin());
  }
  return n;
}

torch::Tensor score_in_orders(ShardedLlama& model, const PromptBuilder& prompts, const SequenceDataset& shard,
                              const std::vector<RankerExample>& examples,
                              const std::vector<std::vector<CandidateOrder>>& orders, const torch::Tensor& letter_ids,
                              int64_t prompts_per_forward, PositionMode positions, int64_t max_examples,
                              bool share_prefix) {
  auto& comm = model.comm();
  torch::NoGradGuard no_grad;
  if (orders.size() != examples.size()) fail("ranker: {} order lists for {} examples", orders.size(), examples.size());
  const auto candidates = letter_ids.numel();
  // O is a setting, the same on every rank; a rank without examples learns it from the others.
  auto width = torch::tensor({orders.empty() ? int64_t{0} : static_cast<int64_t>(orders.front().size())},
                             torch::TensorOptions().dtype(torch::kLong).device(comm.device()));
  comm.all_reduce(width, ReduceOp::kMax);
  const int64_t num_orders = width.item<int64_t>();
  int64_t local = static_cast<int64_t>(examples.size());
  if (max_examples > 0) local = std::clamp<int64_t>(max_examples - global_offset(comm, local).first, 0, local);
  // Examples per step: each brings num_orders rows to the forward.
  const int64_t per_step = std::max<int64_t>(prompts_per_forward / std::max<int64_t>(num_orders, 1), 1);
  auto steps = torch::tensor({(local + per_step - 1) / per_step},
                             torch::TensorOptions().dtype(torch::kLong).device(comm.device()));
  comm.all_reduce(steps, ReduceOp::kMax);
  const int64_t num_steps = steps.item<int64_t>();
  const bool shared = share_prefix && num_orders > 1;
  const int64_t bos = prompts.tokenizer().bos_id() >= 0 ? prompts.tokenizer().bos_id() : 0;

  std::vector<torch::Tensor> parts;
  for (int64_t step = 0; step < num_steps; ++step) {
    fault_at(FaultPoint::kBatch, step);
    const int64_t begin = step * per_step, end = std::min(local, begin + per_step);
    std::vector<std::vector<TokenizedPrompt>> batch;
    for (int64_t i = begin; i < end; ++i) {
      const auto& ex = examples[i];
      if (static_cast<int64_t>(ex.candidates.size()) != candidates)
        fail("ranker: example with {} candidates, the verbalizer has {} letters", ex.candidates.size(), candidates);
      if (static_cast<int64_t>(orders[i].size()) != num_orders)
        fail("ranker: example with {} orders, expected {}", orders[i].size(), num_orders);
      const auto history = example_history(shard, ex);
      batch.emplace_back();
      for (const auto& order : orders[i])
        batch.back().push_back(prompts.encode(history, in_order(ex.candidates, order)));
    }
    // A rank that has run out still runs the forwards, so that the sharded layers' gathers match.
    const bool dummy = batch.empty();
    if (dummy) batch.push_back(std::vector<TokenizedPrompt>(std::max<int64_t>(num_orders, 1), {{bos, bos}}));
    torch::Tensor scores;
    if (shared) {
      scores = score_with_shared_prefix(model, batch, letter_ids);
    } else {
      std::vector<TokenizedPrompt> flat;
      for (const auto& example : batch) flat.insert(flat.end(), example.begin(), example.end());
      scores = verbalizer_scores(model, collate_prompts(flat), letter_ids, positions)
                   .view({static_cast<int64_t>(batch.size()), -1, candidates});
    }
    if (!dummy) parts.push_back(scores.to(torch::kCPU));
  }
  if (parts.empty()) return torch::zeros({0, num_orders, candidates}, torch::kFloat32);
  return torch::cat(parts, 0);
}

}  // namespace llamarec
