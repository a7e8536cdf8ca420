// The SentencePiece plugin: a thin extern "C" layer over sentencepiece::SentencePieceProcessor.
// Built as a MODULE library without LibTorch (see spm_shim.h for why).
#include "core/sentencepiece_shim/spm_shim.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

struct llamarec_spm {
  sentencepiece::SentencePieceProcessor processor;
};

namespace {

void write_error(char* error, size_t error_size, const std::string& message) {
  if (error == nullptr || error_size == 0) return;
  std::snprintf(error, error_size, "%s", message.c_str());
}

// Copies `bytes` into a malloc'd buffer the caller releases with llamarec_spm_free_buffer.
int hand_out(const std::string& bytes, char** out, size_t* out_size, char* error, size_t error_size) {
  auto* buffer = static_cast<char*>(std::malloc(bytes.empty() ? 1 : bytes.size()));
  if (buffer == nullptr) {
    write_error(error, error_size, "out of memory");
    return -1;
  }
  std::memcpy(buffer, bytes.data(), bytes.size());
  *out = buffer;
  *out_size = bytes.size();
  return 0;
}

// Feeds the caller's sentences to the trainer without copying them into a file.
class ArraySentences : public sentencepiece::SentenceIterator {
 public:
  ArraySentences(const char* const* sentences, const size_t* sizes, size_t count)
      : sentences_(sentences), sizes_(sizes), count_(count) {
    if (count_ > 0) current_.assign(sentences_[0], sizes_[0]);
  }
  bool done() const override { return index_ >= count_; }
  void Next() override {
    if (++index_ < count_) current_.assign(sentences_[index_], sizes_[index_]);
  }
  const std::string& value() const override { return current_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  const char* const* sentences_;
  const size_t* sizes_;
  size_t count_;
  size_t index_ = 0;
  std::string current_;
};

}  // namespace

extern "C" {

__attribute__((visibility("default"))) llamarec_spm* llamarec_spm_load(const char* path, char* error,
                                                                       size_t error_size) {
  try {
    auto* handle = new llamarec_spm();
    const auto status = handle->processor.Load(path);
    if (!status.ok()) {
      write_error(error, error_size, status.ToString());
      delete handle;
      return nullptr;
    }
    return handle;
  } catch (const std::exception& e) {
    write_error(error, error_size, e.what());
    return nullptr;
  }
}

__attribute__((visibility("default"))) void llamarec_spm_free(llamarec_spm* handle) { delete handle; }

__attribute__((visibility("default"))) int llamarec_spm_encode(llamarec_spm* handle, const char* text, size_t size,
                                                               int32_t** ids, size_t* count, char* error,
                                                               size_t error_size) {
  try {
    std::vector<int> out;
    const auto status = handle->processor.Encode(std::string(text, size), &out);
    if (!status.ok()) {
      write_error(error, error_size, status.ToString());
      return -1;
    }
    auto* buffer = static_cast<int32_t*>(std::malloc(sizeof(int32_t) * (out.empty() ? 1 : out.size())));
    if (buffer == nullptr) {
      write_error(error, error_size, "out of memory");
      return -1;
    }
    for (size_t i = 0; i < out.size(); ++i) buffer[i] = out[i];
    *ids = buffer;
    *count = out.size();
    return 0;
  } catch (const std::exception& e) {
    write_error(error, error_size, e.what());
    return -1;
  }
}

__attribute__((visibility("default"))) int llamarec_spm_decode(llamarec_spm* handle, const int32_t* ids, size_t count,
                                                               char** text, size_t* size, char* error,
                                                               size_t error_size) {
  try {
    std::vector<int> in(ids, ids + count);
    std::string out;
    const auto status = handle->processor.Decode(in, &out);
    if (!status.ok()) {
      write_error(error, error_size, status.ToString());
      return -1;
    }
    return hand_out(out, text, size, error, error_size);
  } catch (const std::exception& e) {
    write_error(error, error_size, e.what());
    return -1;
  }
}

__attribute__((visibility("default"))) void llamarec_spm_free_buffer(void* buffer) { std::free(buffer); }

__attribute__((visibility("default"))) int llamarec_spm_piece_size(const llamarec_spm* handle) {
  return handle->processor.GetPieceSize();
}

__attribute__((visibility("default"))) int llamarec_spm_piece_to_id(const llamarec_spm* handle, const char* piece,
                                                                    size_t size) {
  const std::string key(piece, size);
  const int id = handle->processor.PieceToId(key);
  // PieceToId answers unk_id for unknown pieces; tell that apart from the unk piece itself.
  if (id == handle->processor.unk_id() && handle->processor.IdToPiece(id) != key) return -1;
  return id;
}

__attribute__((visibility("default"))) const char* llamarec_spm_id_to_piece(const llamarec_spm* handle, int id,
                                                                            size_t* size) {
  if (id < 0 || id >= handle->processor.GetPieceSize()) return nullptr;
  const std::string& piece = handle->processor.IdToPiece(id);
  *size = piece.size();
  return piece.data();
}

__attribute__((visibility("default"))) int llamarec_spm_special_id(const llamarec_spm* handle, int which) {
  switch (which) {
    case 0:
      return handle->processor.unk_id();
    case 1:
      return handle->processor.bos_id();
    case 2:
      return handle->processor.eos_id();
    case 3:
      return handle->processor.pad_id();
    default:
      return -1;
  }
}

__attribute__((visibility("default"))) int llamarec_spm_train(const char* const* keys, const char* const* values,
                                                              size_t nargs, const char* const* sentences,
                                                              const size_t* sizes, size_t count, char** model,
                                                              size_t* model_size, char* error, size_t error_size) {
  try {
    std::unordered_map<std::string, std::string> kwargs;
    for (size_t i = 0; i < nargs; ++i) kwargs[keys[i]] = values[i];
    ArraySentences iterator(sentences, sizes, count);
    std::string serialized;
    const auto status = sentencepiece::SentencePieceTrainer::Train(kwargs, &iterator, &serialized);
    if (!status.ok()) {
      write_error(error, error_size, status.ToString());
      return -1;
    }
    return hand_out(serialized, model, model_size, error, error_size);
  } catch (const std::exception& e) {
    write_error(error, error_size, e.what());
    return -1;
  }
}

}  // extern "C"
