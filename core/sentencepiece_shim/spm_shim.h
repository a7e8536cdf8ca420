// C interface of the SentencePiece plugin (libllamarec_spm_shim.so). Debian's libsentencepiece
// embeds and exports its own protobuf-lite, which clashes with LibTorch's libprotobuf; the plugin
// keeps it out of the main process's symbol namespace (core/tokenizer.cpp dlopens it with
// RTLD_DEEPBIND). Plain C types only, so both sides may use different C++ runtimes' objects freely.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct llamarec_spm llamarec_spm;

// Loads a SentencePiece model file. Returns NULL on failure and writes the reason to `error`.
typedef llamarec_spm* (*llamarec_spm_load_fn)(const char* path, char* error, size_t error_size);
typedef void (*llamarec_spm_free_fn)(llamarec_spm* handle);

// Encodes `size` bytes of UTF-8 text (no BOS/EOS). On success returns 0 and hands out a malloc'd
// array that the caller releases with llamarec_spm_free_buffer; on failure returns -1 and writes
// the reason to `error`.
typedef int (*llamarec_spm_encode_fn)(llamarec_spm* handle, const char* text, size_t size, int32_t** ids, size_t* count,
                                      char* error, size_t error_size);
// Decodes ids to UTF-8 text (malloc'd, not NUL-terminated: use `size`). Returns 0 or -1 as encode.
typedef int (*llamarec_spm_decode_fn)(llamarec_spm* handle, const int32_t* ids, size_t count, char** text, size_t* size,
                                      char* error, size_t error_size);
typedef void (*llamarec_spm_free_buffer_fn)(void* buffer);

typedef int (*llamarec_spm_piece_size_fn)(const llamarec_spm* handle);
// -1 for a piece that is not in the vocabulary (SentencePiece itself answers unk_id).
typedef int (*llamarec_spm_piece_to_id_fn)(const llamarec_spm* handle, const char* piece, size_t size);
// The piece's bytes, owned by the model (valid until free); NULL for an id out of range.
typedef const char* (*llamarec_spm_id_to_piece_fn)(const llamarec_spm* handle, int id, size_t* size);
// Special ids: 0 = unk, 1 = bos, 2 = eos, 3 = pad; -1 where the model has none.
typedef int (*llamarec_spm_special_id_fn)(const llamarec_spm* handle, int which);

// Trains a model on `count` sentences (UTF-8, `sizes[i]` bytes each) with SentencePiece's trainer;
// `keys`/`values` are `nargs` trainer options as spm_train names them (vocab_size, model_type, ...).
// On success returns 0 and hands out the serialized model (malloc'd, release with
// llamarec_spm_free_buffer); on failure returns -1 and writes the reason to `error`.
typedef int (*llamarec_spm_train_fn)(const char* const* keys, const char* const* values, size_t nargs,
                                     const char* const* sentences, const size_t* sizes, size_t count, char** model,
                                     size_t* model_size, char* error, size_t error_size);

#ifdef __cplusplus
}
#endif
