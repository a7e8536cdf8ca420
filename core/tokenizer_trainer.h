// Trains a SentencePiece tokenizer with SentencePiece's own trainer, set up the way Llama's
// tokenizer.model is: byte fallback (no text is ever unknown), digits split, no normalisation, a
// dummy prefix, unk/bos/eos = 0/1/2 and no pad piece. The built-in ranker base uses it to get a
// vocabulary for the catalogue's titles and the prompt's words (pipelines/builtin_llama.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace llamarec {

struct TokenizerTrainingOptions {
  // An upper bound: a small corpus yields fewer pieces (the unigram trainer's soft limit); at
  // least the 256 byte pieces, the specials and every character of the corpus.
  int64_t vocab_size = 1024;
  // false: characters the corpus lacks become <unk> (not Llama-style; other tokenizers do this).
  bool byte_fallback = true;
};

// Trains on `sentences` (one training sentence each; a newline inside one is left to byte fallback,
// as in Llama's tokenizer, when no sentence contains it) and writes the model to `output_path`
// atomically. Deterministic: the same sentences and options give the same bytes.
void train_tokenizer(const std::vector<std::string>& sentences, const TokenizerTrainingOptions& options,
                     const std::string& output_path);

}  // namespace llamarec
