#include "pipelines/ranker_prompt.h"

#include "core/error.h"

namespace llamarec {

PromptBuilder::PromptBuilder(const Tokenizer& tokenizer, const std::vector<std::string>& titles,
                             std::vector<int64_t> letter_ids, PromptOptions options)
    : tokenizer_(tokenizer),
      titles_(titles),
      letter_ids_(std::move(letter_ids)),
      options_(std::move(options)),
      truncated_titles_(titles.size()) {
  if (options_.max_text_tokens < 16) fail("prompt: max_text_tokens must be >= 16, got {}", options_.max_text_tokens);
}

const std::string& PromptBuilder::title(int64_t item) const {
  if (item <= 0 || item >= static_cast<int64_t>(titles_.size()))
    fail("prompt: item id {} outside 1..{}", item, titles_.size() - 1);
  auto& cached = truncated_titles_[item];
  if (!cached) {
    // As the reference's convert_tokens_to_string(tokenize(title)[:32]).
    auto ids = tokenizer_.encode(titles_[item]);
    if (static_cast<int64_t>(ids.size()) > options_.max_title_tokens) {
      ids.resize(options_.max_title_tokens);
      cached = tokenizer_.decode(ids);
    } else {
      cached = titles_[item];
    }
  }
  return *cached;
}

std::string ranker_prompt_text(const std::string& instruction, const std::vector<std::string>& history_titles,
                               const std::vector<std::string>& candidate_titles) {
  if (candidate_titles.size() > 26) fail("prompt: {} candidates, at most 26 letters", candidate_titles.size());
  std::string hist, pool;
  for (size_t i = 0; i < history_titles.size(); ++i) {
    if (!hist.empty()) hist += " \n ";
    hist += "(" + std::to_string(i + 1) + ") " + history_titles[i];
  }
  for (size_t i = 0; i < candidate_titles.size(); ++i) {
    if (!pool.empty()) pool += " \n ";
    pool += std::string("(") + static_cast<char>('A' + i) + ") " + candidate_titles[i];
  }
  return "### Instruction:\n" + instruction + "\n\n### Input:\nUser history: " + hist + "; \n Candidate pool: " + pool +
         "\n\n### Response:\n";
}

std::string PromptBuilder::text(const std::vector<int32_t>& history, const std::vector<int64_t>& candidates) const {
  const size_t first = history.size() > static_cast<size_t>(options_.max_history)
                           ? history.size() - static_cast<size_t>(options_.max_history)
                           : 0;
  std::vector<std::string> hist, pool;
  for (size_t i = first; i < history.size(); ++i) hist.push_back(title(history[i]));
  for (const auto c : candidates) pool.push_back(title(c));
  return ranker_prompt_text(options_.instruction, hist, pool);
}

namespace {

// BOS + the last (max_tokens - 1) ids of `body`.
TokenizedPrompt with_bos_left_truncated(const Tokenizer& tokenizer, std::vector<int64_t> body, int64_t max_tokens) {
  TokenizedPrompt out;
  const int64_t keep = max_tokens - 1;
  if (static_cast<int64_t>(body.size()) > keep) {
    body.erase(body.begin(), body.end() - keep);
    out.truncated = true;
  }
  out.ids.reserve(body.size() + 2);
  if (tokenizer.bos_id() >= 0) out.ids.push_back(tokenizer.bos_id());
  out.ids.insert(out.ids.end(), body.begin(), body.end());
  return out;
}

}  // namespace

TokenizedPrompt PromptBuilder::encode(const std::vector<int32_t>& history,
                                      const std::vector<int64_t>& candidates) const {
  return with_bos_left_truncated(tokenizer_, tokenizer_.encode(text(history, candidates)), options_.max_text_tokens);
}

TokenizedPrompt PromptBuilder::encode_train(const std::vector<int32_t>& history, const std::vector<int64_t>& candidates,
                                            int64_t answer) const {
  if (answer < 0 || answer >= static_cast<int64_t>(candidates.size()) ||
      answer >= static_cast<int64_t>(letter_ids_.size()))
    fail("prompt: answer index {} outside the {} candidates", answer, candidates.size());
  // encode(prompt + letter) = encode(prompt) + [letter id] because the letter follows "\n"
  // (letter_token_ids checked that); then truncation as the reference (text incl. letter), then EOS.
  auto body = tokenizer_.encode(text(history, candidates));
  body.push_back(letter_ids_[answer]);
  auto out = with_bos_left_truncated(tokenizer_, std::move(body), options_.max_text_tokens);
  out.ids.push_back(tokenizer_.eos_id());
  return out;
}

PromptBatch collate_prompts(const std::vector<TokenizedPrompt>& prompts, int64_t pad_id) {
  if (prompts.empty()) fail("collate_prompts: empty batch");
  size_t length = 0;
  for (const auto& p : prompts) length = std::max(length, p.ids.size());
  const auto batch = static_cast<int64_t>(prompts.size());
  PromptBatch out;
  out.input_ids = torch::full({batch, static_cast<int64_t>(length)}, pad_id, torch::kLong);
  out.attention_mask = torch::zeros({batch, static_cast<int64_t>(length)}, torch::kLong);
  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto mask = out.attention_mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto& p = prompts[b].ids;
    const size_t pad = length - p.size();
    for (size_t j = 0; j < p.size(); ++j) {
      ids[b][pad + j] = p[j];
      mask[b][pad + j] = 1;
    }
  }
  return out;
}

}  // namespace llamarec
