#include "core/tokenizer.h"

#include <algorithm>

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "core/error.h"
#include "core/sentencepiece_plugin.h"

namespace llamarec {

struct Tokenizer::Impl {
  const SentencePiecePlugin* plugin = nullptr;
  llamarec_spm* handle = nullptr;
  std::string path;
  int64_t vocab_size = 0;
  int64_t unk = -1, bos = -1, eos = -1, pad = -1;

  ~Impl() {
    if (handle != nullptr) plugin->free(handle);
  }
};

Tokenizer::Tokenizer(const std::string& model_path) {
  if (!std::filesystem::is_regular_file(model_path)) fail("{}: tokenizer model not found", model_path);
  const SentencePiecePlugin& p = sentencepiece_plugin();
  auto impl = std::make_shared<Impl>();
  impl->plugin = &p;
  impl->path = model_path;
  char error[1024] = {0};
  impl->handle = p.load(model_path.c_str(), error, sizeof(error));
  if (impl->handle == nullptr) fail("{}: cannot load SentencePiece model: {}", model_path, error);
  impl->vocab_size = p.piece_size(impl->handle);
  impl->unk = p.special_id(impl->handle, 0);
  impl->bos = p.special_id(impl->handle, 1);
  impl->eos = p.special_id(impl->handle, 2);
  impl->pad = p.special_id(impl->handle, 3);
  impl_ = std::move(impl);
}

std::vector<int64_t> Tokenizer::encode(const std::string& text, bool add_bos, bool add_eos) const {
  int32_t* ids = nullptr;
  size_t count = 0;
  char error[1024] = {0};
  if (impl_->plugin->encode(impl_->handle, text.data(), text.size(), &ids, &count, error, sizeof(error)) != 0)
    fail("{}: cannot encode text ({} bytes): {}", impl_->path, text.size(), error);
  std::vector<int64_t> out;
  out.reserve(count + 2);
  if (add_bos) {
    if (impl_->bos < 0) fail("{}: BOS requested but the model defines no BOS piece", impl_->path);
    out.push_back(impl_->bos);
  }
  out.insert(out.end(), ids, ids + count);
  impl_->plugin->free_buffer(ids);
  if (add_eos) {
    if (impl_->eos < 0) fail("{}: EOS requested but the model defines no EOS piece", impl_->path);
    out.push_back(impl_->eos);
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  std::vector<int32_t> narrow;
  narrow.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= impl_->vocab_size)
      fail("{}: cannot decode id {} at position {}: vocabulary has {} pieces", impl_->path, ids[i], i,
           impl_->vocab_size);
    narrow.push_back(static_cast<int32_t>(ids[i]));
  }
  char* text = nullptr;
  size_t size = 0;
  char error[1024] = {0};
  if (impl_->plugin->decode(impl_->handle, narrow.data(), narrow.size(), &text, &size, error, sizeof(error)) != 0)
    fail("{}: cannot decode {} ids: {}", impl_->path, ids.size(), error);
  std::string out(text, size);
  impl_->plugin->free_buffer(text);
  return out;
}

std::string Tokenizer::id_to_piece(int64_t id) const {
  size_t size = 0;
  const char* piece =
      (id < 0 || id > INT32_MAX) ? nullptr : impl_->plugin->id_to_piece(impl_->handle, static_cast<int>(id), &size);
  if (piece == nullptr) fail("{}: id {} out of range (vocabulary has {} pieces)", impl_->path, id, impl_->vocab_size);
  return std::string(piece, size);
}

std::optional<int64_t> Tokenizer::piece_to_id(const std::string& piece) const {
  const int id = impl_->plugin->piece_to_id(impl_->handle, piece.data(), piece.size());
  if (id < 0) return std::nullopt;
  return id;
}

int64_t Tokenizer::vocab_size() const { return impl_->vocab_size; }
int64_t Tokenizer::bos_id() const { return impl_->bos; }
int64_t Tokenizer::eos_id() const { return impl_->eos; }
int64_t Tokenizer::unk_id() const { return impl_->unk; }
int64_t Tokenizer::pad_id() const { return impl_->pad; }
const std::string& Tokenizer::path() const { return impl_->path; }

std::vector<std::string> candidate_letters(int count) {
  if (count < 0 || count > 26) fail("candidate letters: count {} outside 0..26", count);
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) out.emplace_back(1, static_cast<char>('A' + i));
  return out;
}

namespace {

// A tokenizer without a letter and without byte fallback encodes it (merged with unknown
// neighbours, such as the context's last character) as <unk>: ids past the part shared with the
// context's own encoding holding unk say so.
void fail_if_unknown(const Tokenizer& tokenizer, const std::string& letter, const std::vector<int64_t>& ids,
                     const std::vector<int64_t>& context_ids, size_t letter_count) {
  const size_t skip = std::mismatch(ids.begin(), ids.end(), context_ids.begin(), context_ids.end()).first - ids.begin();
  for (size_t i = skip; i < ids.size(); ++i) {
    if (ids[i] == tokenizer.unk_id())
      fail(
          "{}: letter '{}' is unknown to the tokenizer (it encodes to <unk>): the verbalizer needs the letters A..{} "
          "as "
          "tokens; use a tokenizer that has them (Llama's has, through byte fallback)",
          tokenizer.path(), letter, static_cast<char>('A' + letter_count - 1));
  }
}

// A verbalizer letter needs a token of its own: not <unk>, not one an earlier letter already has.
void check_letter_id(const Tokenizer& tokenizer, const std::string& letter, int64_t id,
                     const std::vector<int64_t>& earlier) {
  if (id == tokenizer.unk_id())
    fail(
        "{}: letter '{}' is unknown to the tokenizer (it encodes to <unk>): the verbalizer needs the letters A..{} "
        "as tokens; use a tokenizer that has them (Llama's has, through byte fallback)",
        tokenizer.path(), letter, static_cast<char>('A' + earlier.size()));
  const auto same = std::find(earlier.begin(), earlier.end(), id);
  if (same != earlier.end())
    fail("{}: letters '{}' and '{}' encode to the same token {}", tokenizer.path(),
         static_cast<char>('A' + (same - earlier.begin())), letter, id);
}

}  // namespace

std::vector<int64_t> letter_token_ids(const Tokenizer& tokenizer, const std::vector<std::string>& letters,
                                      const std::string& context) {
  const auto prefix = tokenizer.encode(context);
  if (std::find(prefix.begin(), prefix.end(), tokenizer.unk_id()) != prefix.end())
    fail(
        "{}: the prompt's text before the answer ({:?}) has characters unknown to the tokenizer (<unk>): the "
        "verbalizer needs a tokenizer that encodes it and the letters (Llama's does, through byte fallback)",
        tokenizer.path(), context);
  std::vector<int64_t> out;
  for (const auto& letter : letters) {
    const auto ids = tokenizer.encode(context + letter);
    fail_if_unknown(tokenizer, letter, ids, prefix, letters.size());
    const bool extends = ids.size() == prefix.size() + 1 && std::equal(prefix.begin(), prefix.end(), ids.begin());
    if (!extends)
      fail("{}: letter '{}' after context {:?} is not a single extra token ({} ids vs {} for the context alone)",
           tokenizer.path(), letter, context, ids.size(), prefix.size());
    check_letter_id(tokenizer, letter, ids.back(), out);
    out.push_back(ids.back());
  }
  return out;
}

std::vector<int64_t> letter_token_ids_dummy_prefix(const Tokenizer& tokenizer,
                                                   const std::vector<std::string>& letters) {
  std::vector<int64_t> out;
  for (const auto& letter : letters) {
    const auto ids = tokenizer.encode(letter);
    fail_if_unknown(tokenizer, letter, ids, {}, letters.size());
    if (ids.size() != 1) fail("{}: letter '{}' encodes to {} tokens, expected 1", tokenizer.path(), letter, ids.size());
    check_letter_id(tokenizer, letter, ids.front(), out);
    out.push_back(ids.front());
  }
  return out;
}

}  // namespace llamarec
