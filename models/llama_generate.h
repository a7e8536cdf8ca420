// Greedy decoding with the KV cache: the generation baseline and an end-to-end check of the model.
#pragma once
#include <cstdint>
#include <vector>

#include "models/llama_model.h"

namespace llamarec {

// Feeds `prompt_ids` (BOS included if wanted), then appends the argmax token up to
// `max_new_tokens` times, stopping after `stop_id` (e.g. EOS; -1: never). Returns the new ids only
// (a generated stop_id included).
std::vector<int64_t> greedy_generate(LlamaForCausalLMImpl& model, const std::vector<int64_t>& prompt_ids,
                                     int64_t max_new_tokens, int64_t stop_id);

}  // namespace llamarec
