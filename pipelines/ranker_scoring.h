// The ranker's two uses of the sharded Llama: the label-only training loss and the verbalizer.
// Both compute the LM head at a few rows only (the answer letter and EOS positions, or the last
// position against the candidate letters' rows): [batch, length, vocab] logits never exist.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/ranking_metrics.h"
#include "core/sequence_dataset.h"
#include "distributed/fsdp_llama.h"
#include "pipelines/ranker_examples.h"
#include "pipelines/ranker_prompt.h"

namespace llamarec {

// Sum of the cross-entropy of the answer letter and of EOS over the batch (2 label tokens per
// prompt; prompts from PromptBuilder::encode_train, left-padded). fp32 loss.
torch::Tensor ranker_loss_sum(ShardedLlama& model, const PromptBatch& batch, bool training, PositionMode positions);

// Verbalizer (docs/llamarec.md, "Ranker"): raw last-position logits at `letter_ids` [C] -> scores [B, C] (float32).
torch::Tensor verbalizer_scores(ShardedLlama& model, const PromptBatch& batch, const torch::Tensor& letter_ids,
                                PositionMode positions);

struct RankerEvaluation {
  RankingMetrics ranker;     // over the examples (the valid retrieval subset)
  RankingMetrics retriever;  // the retriever's own ranking of the same examples
};

// Scores this rank's examples (all ranks run the same number of forwards, padding with a dummy
// prompt where one has run out, as the sharded layers need every rank), then all-reduces the
// metric sums: identical for any number of ranks. `max_examples` > 0 keeps only the first that
// many examples in global (user) order.
RankerEvaluation evaluate_ranker(ShardedLlama& model, const PromptBuilder& prompts, const SequenceDataset& shard,
                                 const std::vector<RankerExample>& examples, const torch::Tensor& letter_ids,
                                 int64_t batch_size, const std::vector<int64_t>& ks, PositionMode positions,
                                 int64_t max_examples = 0);

}  // namespace llamarec
