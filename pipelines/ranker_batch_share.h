// The ranker's share of each global batch (distributed/balanced_rows.h applied to prompts). A rank
// owns the examples of its users, but a global batch falls on the ranks unevenly, and a prompt's
// cost grows with its length (attention quadratically): with every layer's gather a sync point,
// the rank with the dearest prompts sets every layer's pace. The tokenised prompts are small, so
// they travel to every rank, and each takes the share that balances the cost.
#pragma once
#include <vector>

#include "distributed/communicator.h"
#include "models/llama_config.h"
#include "pipelines/ranker_prompt.h"

namespace llamarec {

// The forward FLOPs per decoder layer of a prompt of `tokens` tokens: the projections (2 per
// weight per token) and the causal attention's two products (about 2·L·D per token).
class PromptCost {
 public:
  explicit PromptCost(const LlamaConfig& config);
  double operator()(int64_t tokens) const;

 private:
  double per_token_ = 0;  // projections
  double per_pair_ = 0;   // attention, per (query, visible key)
};

// This rank's prompts of the global batch (any number, also none) -> its balanced share (possibly
// empty), in global-batch order. max_prompts bounds every rank's count (the global batch size).
// Collective: every rank calls it every step.
std::vector<TokenizedPrompt> balanced_prompt_share(Communicator& comm, const std::vector<TokenizedPrompt>& prompts,
                                                   const PromptCost& cost, int64_t max_prompts);

}  // namespace llamarec
