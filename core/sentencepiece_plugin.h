// The SentencePiece plugin's entry points (core/sentencepiece_shim), resolved once per process.
// Used by the tokenizer and its trainer; nothing else should need it.
#pragma once
#include <string>

#include "core/sentencepiece_shim/spm_shim.h"

namespace llamarec {

struct SentencePiecePlugin {
  std::string path;
  llamarec_spm_load_fn load = nullptr;
  llamarec_spm_free_fn free = nullptr;
  llamarec_spm_encode_fn encode = nullptr;
  llamarec_spm_decode_fn decode = nullptr;
  llamarec_spm_free_buffer_fn free_buffer = nullptr;
  llamarec_spm_piece_size_fn piece_size = nullptr;
  llamarec_spm_piece_to_id_fn piece_to_id = nullptr;
  llamarec_spm_id_to_piece_fn id_to_piece = nullptr;
  llamarec_spm_special_id_fn special_id = nullptr;
  llamarec_spm_train_fn train = nullptr;
};

// Loads the plugin on first use: $LLAMAREC_SPM_SHIM, next to the running executable (and up to two
// folders above it), then its build-time location. Fails listing every place tried.
const SentencePiecePlugin& sentencepiece_plugin();

}  // namespace llamarec
