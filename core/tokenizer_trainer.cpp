#include "core/tokenizer_trainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/sentencepiece_plugin.h"

namespace llamarec {

void train_tokenizer(const std::vector<std::string>& sentences, const TokenizerTrainingOptions& options,
                     const std::string& output_path) {
  if (sentences.empty()) fail("{}: no text to train a tokenizer on", output_path);
  if (options.vocab_size < 300 || options.vocab_size > 1'000'000)
    fail("{}: tokenizer vocab_size {} outside 300..1000000 (byte fallback alone takes 259 pieces)", output_path,
         options.vocab_size);
  size_t longest = 0;
  for (const auto& s : sentences) longest = std::max(longest, s.size());
  const std::vector<std::pair<std::string, std::string>> args = {
      {"model_type", "unigram"},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"hard_vocab_limit", "false"},
      {"character_coverage", "1.0"},
      {"byte_fallback", options.byte_fallback ? "true" : "false"},
      {"split_digits", "true"},
      {"normalization_rule_name", "identity"},
      {"add_dummy_prefix", "true"},
      {"remove_extra_whitespaces", "false"},
      {"allow_whitespace_only_pieces", "true"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      // One thread and every sentence in the given order: the model depends on the text only.
      {"num_threads", "1"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"max_sentence_length", std::to_string(std::max<size_t>(longest, 4192))},
      {"minloglevel", "2"},
  };
  std::vector<const char*> keys, values, texts;
  std::vector<size_t> sizes;
  for (const auto& [k, v] : args) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  for (const auto& s : sentences) {
    texts.push_back(s.data());
    sizes.push_back(s.size());
  }
  const auto& plugin = sentencepiece_plugin();
  char* model = nullptr;
  size_t model_size = 0;
  char error[1024] = {0};
  if (plugin.train(keys.data(), values.data(), keys.size(), texts.data(), sizes.data(), texts.size(), &model,
                   &model_size, error, sizeof(error)) != 0)
    fail("{}: SentencePiece training on {} sentences failed: {}", output_path, sentences.size(), error);
  std::string bytes(model, model_size);
  plugin.free_buffer(model);
  write_file_atomic(output_path, bytes);
}

}  // namespace llamarec
