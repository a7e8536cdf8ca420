// SentencePiece tokenizer (Llama 2's tokenizer.model). SentencePiece runs inside a dlopen'ed plugin
// (core/sentencepiece_shim) because its embedded protobuf clashes with LibTorch's; this class is the
// only way the rest of the code reaches it.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llamarec {

class Tokenizer {
 public:
  // Loads a SentencePiece model file (e.g. <model_dir>/tokenizer.model). The plugin is looked up in
  // $LLAMAREC_SPM_SHIM, next to the running executable (and up to two folders above it), then at
  // its build-time location.
  explicit Tokenizer(const std::string& model_path);

  // SentencePiece encoding of `text` (with the model's normaliser, i.e. Llama's dummy prefix),
  // optionally wrapped in BOS / EOS.
  std::vector<int64_t> encode(const std::string& text, bool add_bos = false, bool add_eos = false) const;
  // Text of `ids`; BOS/EOS/other control ids decode to nothing, byte-fallback pieces to their bytes.
  std::string decode(const std::vector<int64_t>& ids) const;

  std::string id_to_piece(int64_t id) const;
  // nullopt for a piece that is not in the vocabulary.
  std::optional<int64_t> piece_to_id(const std::string& piece) const;

  int64_t vocab_size() const;
  int64_t bos_id() const;  // -1 where the model defines none
  int64_t eos_id() const;
  int64_t unk_id() const;
  int64_t pad_id() const;
  const std::string& path() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// "A", "B", ... : the candidate letters of a prompt with `count` candidates (at most 26).
std::vector<std::string> candidate_letters(int count);

// The token id of each letter as it actually appears after `context` in a prompt (LlamaRec's
// answer follows "### Response:\n"): encode(context + letter) must be encode(context) plus exactly
// one id, which is returned. Fails, naming the letter, when the letter merges with the context or
// is split into several tokens.
std::vector<int64_t> letter_token_ids(const Tokenizer& tokenizer, const std::vector<std::string>& letters,
                                      const std::string& context = "\n");

// The ids LlamaRec's verbalizer reads (docs/llamarec.md, "Ranker"): encode(letter) without special tokens, i.e. with
// the dummy prefix ("▁A"). Fails when a letter is not a single token.
std::vector<int64_t> letter_token_ids_dummy_prefix(const Tokenizer& tokenizer, const std::vector<std::string>& letters);

}  // namespace llamarec
