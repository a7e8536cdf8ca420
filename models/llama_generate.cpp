#include "models/llama_generate.h"

#include "core/error.h"

namespace llamarec {

std::vector<int64_t> greedy_generate(LlamaForCausalLMImpl& model, const std::vector<int64_t>& prompt_ids,
                                     int64_t max_new_tokens, int64_t stop_id) {
  if (prompt_ids.empty()) fail("greedy_generate: empty prompt (start from BOS)");
  torch::NoGradGuard no_grad;
  const auto device = model.lm_head_weight().device();
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  KVCache cache(model.config().num_hidden_layers);
  std::vector<int64_t> out;
  auto input = torch::tensor(prompt_ids, i64).unsqueeze(0).to(device);  // [1, P], then [1, 1]
  for (int64_t step = 0; step < max_new_tokens; ++step) {
    const auto hidden = model.forward_hidden(input, {}, &cache);  // [1, L, D]
    const auto logits = model.lm_head_at(hidden.select(1, -1));   // [1, V]
    const int64_t next = logits.argmax(-1).item<int64_t>();
    out.push_back(next);
    if (next == stop_id) break;
    input = torch::full({1, 1}, next, i64.device(device));
  }
  return out;
}

}  // namespace llamarec
