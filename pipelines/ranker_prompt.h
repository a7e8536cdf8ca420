// LlamaRec's ranking prompt (docs/llamarec.md, "Prompt") and its tokenisation:
//
//   ### Instruction:\n{instruction}\n\n### Input:\nUser history: (1) t1 \n (2) t2; \n Candidate pool:
//   (A) c1 \n (B) c2\n\n### Response:\n
//
// history = the last max_history items, numbered oldest first; titles cut to max_title_tokens
// tokens; tokens = BOS + prompt, cut from the left to max_text_tokens (BOS kept, as HF's left
// truncation does), plus the answer letter and EOS for training. Batches are left-padded with the
// pad id 0 (Llama's unk), so that every prompt ends at the last position.
#pragma once
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "core/tokenizer.h"

namespace llamarec {

inline constexpr const char* kLlamaRecInstruction =
    "Given user history in chronological order, recommend an item from the candidate pool with its index letter.";

struct PromptOptions {
  int64_t max_history = 20;
  int64_t max_title_tokens = 32;
  int64_t max_text_tokens = 1536;
  std::string instruction = kLlamaRecInstruction;
};

// The prompt text for the given titles (history oldest first, candidates in letter order), ending
// in "### Response:\n". PromptBuilder::text is this on the dataset's (truncated) titles.
std::string ranker_prompt_text(const std::string& instruction, const std::vector<std::string>& history_titles,
                               const std::vector<std::string>& candidate_titles);

struct TokenizedPrompt {
  std::vector<int64_t> ids;  // BOS + prompt (+ letter + EOS when training)
  bool truncated = false;    // lost its beginning to max_text_tokens
};

class PromptBuilder {
 public:
  // titles: [I+1], index = item id (the dataset's). `letter_ids`: the id of each candidate letter
  // as it follows "\n" (letter_token_ids), used for the training answer.
  PromptBuilder(const Tokenizer& tokenizer, const std::vector<std::string>& titles, std::vector<int64_t> letter_ids,
                PromptOptions options = {});

  // The prompt text, ending in "### Response:\n". history: chronological items (only the last
  // max_history are shown); candidates: item ids in letter order.
  std::string text(const std::vector<int32_t>& history, const std::vector<int64_t>& candidates) const;
  // Tokens of an evaluation prompt (ends with the "\n" before the answer).
  TokenizedPrompt encode(const std::vector<int32_t>& history, const std::vector<int64_t>& candidates) const;
  // Tokens of a training example: the prompt, the answer letter, EOS. The loss covers the last two.
  TokenizedPrompt encode_train(const std::vector<int32_t>& history, const std::vector<int64_t>& candidates,
                               int64_t answer) const;

  // An item's title cut to max_title_tokens tokens (cached).
  const std::string& title(int64_t item) const;
  const std::vector<int64_t>& letter_ids() const { return letter_ids_; }
  const PromptOptions& options() const { return options_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }

 private:
  const Tokenizer& tokenizer_;
  const std::vector<std::string>& titles_;
  std::vector<int64_t> letter_ids_;
  PromptOptions options_;
  mutable std::vector<std::optional<std::string>> truncated_titles_;
};

struct PromptBatch {
  torch::Tensor input_ids;       // [B, L] int64, left-padded with 0
  torch::Tensor attention_mask;  // [B, L] int64, 0 on padding
};

// Left-pads to the longest sequence of the batch.
PromptBatch collate_prompts(const std::vector<TokenizedPrompt>& prompts, int64_t pad_id = 0);

}  // namespace llamarec
