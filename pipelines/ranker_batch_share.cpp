#include "pipelines/ranker_batch_share.h"

#include <algorithm>

#include "distributed/balanced_rows.h"

namespace llamarec {

PromptCost::PromptCost(const LlamaConfig& c) {
  const double d = static_cast<double>(c.hidden_size), f = static_cast<double>(c.intermediate_size);
  const double kv = d / static_cast<double>(c.num_attention_heads) * static_cast<double>(c.num_key_value_heads);
  per_token_ = 2.0 * (2.0 * d * d + 2.0 * d * kv + 3.0 * d * f);  // q, o; k, v; gate, up, down
  per_pair_ = 4.0 * d;                                            // q·k and p·v
}

double PromptCost::operator()(int64_t tokens) const {
  const auto l = static_cast<double>(tokens);
  return per_token_ * l + per_pair_ * l * (l + 1) / 2;
}

std::vector<TokenizedPrompt> balanced_prompt_share(Communicator& comm, const std::vector<TokenizedPrompt>& prompts,
                                                   const PromptCost& cost, int64_t max_prompts) {
  // Rows of a common width, padded with -1 after the ids (no id is negative).
  int64_t width = 1;
  for (const auto& p : prompts) width = std::max<int64_t>(width, static_cast<int64_t>(p.ids.size()));
  auto widest = torch::tensor({width}, torch::kLong).to(comm.device());
  comm.all_reduce(widest, ReduceOp::kMax);
  width = widest.to(torch::kCPU).item<int64_t>();
  const auto n = static_cast<int64_t>(prompts.size());
  auto rows = torch::full({n, width}, -1, torch::kLong);
  auto costs = torch::empty({n}, torch::kDouble);
  for (int64_t i = 0; i < n; ++i) {
    const auto& ids = prompts[static_cast<size_t>(i)].ids;
    rows[i].narrow(0, 0, static_cast<int64_t>(ids.size())).copy_(torch::tensor(ids, torch::kLong));
    costs[i] = cost(static_cast<int64_t>(ids.size()));
  }
  const auto share = balanced_share(comm, rows, costs, max_prompts);
  std::vector<TokenizedPrompt> out;
  const auto mine = share.rows.contiguous();
  for (int64_t i = 0; i < mine.size(0); ++i) {
    const auto* row = mine[i].data_ptr<int64_t>();
    TokenizedPrompt p;
    for (int64_t j = 0; j < width && row[j] >= 0; ++j) p.ids.push_back(row[j]);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace llamarec
