// The ranker's two uses of the sharded Llama: the label-only training loss and the verbalizer.
// Both compute the LM head at a few rows only (the answer letter and EOS positions, or the last
// position against the candidate letters' rows): [batch, length, vocab] logits never exist.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/sequence_dataset.h"
#include "distributed/fsdp_llama.h"
#include "pipelines/candidate_orders.h"
#include "pipelines/ranker_examples.h"
#include "pipelines/ranker_prompt.h"

namespace llamarec {

// Sum of the cross-entropy of the answer letter and of EOS over the batch (2 label tokens per
// prompt; prompts from PromptBuilder::encode_train, left-padded). fp32 loss.
torch::Tensor ranker_loss_sum(ShardedLlama& model, const PromptBatch& batch, bool training, PositionMode positions);

// Verbalizer (docs/llamarec.md, "Ranker"): raw last-position logits at `letter_ids` [C] -> scores [B, C] (float32).
torch::Tensor verbalizer_scores(ShardedLlama& model, const PromptBatch& batch, const torch::Tensor& letter_ids,
                                PositionMode positions);

// The tokens all `prompts` share at their start, leaving at least one token to each (the last
// token is the one whose logits are read). Left truncation (max_text_tokens) can make it short.
size_t shared_prefix_length(const std::vector<TokenizedPrompt>& prompts);

// The verbalizer's letter logits of this rank's examples, each under each of its orders:
// [E, O, C] float32 on the CPU, indexed by letter slot (slot s of order o showed the candidate
// examples[e].candidates[orders[e][o][s]]). Every example has the same number of orders O.
//
// With O > 1 the prompts of one example agree up to where the first candidate line differs (the
// instruction and the history, most of the tokens): that common prefix runs once per example into a
// KV cache, which is then shared by the O continuations (`share_prefix`). The result equals O
// independent forwards up to rounding: the positions count only real tokens, as without padding
// (so ranker.positions does not apply there; under RoPE both give the same attention in exact
// arithmetic).
//
// All ranks run the same number of forwards (padding with a dummy prompt where one has run out), as
// the sharded layers need every rank. A forward holds about `prompts_per_forward` rows
// (prompts_per_forward / O examples, at least one).
// `max_examples` > 0 scores only the first that many examples in global (user) order; the rows of
// the others are absent from the result (E = this rank's kept examples).
torch::Tensor score_in_orders(ShardedLlama& model, const PromptBuilder& prompts, const SequenceDataset& shard,
                              const std::vector<RankerExample>& examples,
                              const std::vector<std::vector<CandidateOrder>>& orders, const torch::Tensor& letter_ids,
                              int64_t prompts_per_forward, PositionMode positions, int64_t max_examples = 0,
                              bool share_prefix = true);

}  // namespace llamarec
