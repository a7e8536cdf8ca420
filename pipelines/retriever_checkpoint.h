// The retriever checkpoint: LRURec parameters as safetensors, with the model config in the file's
// metadata (key "llamarec.lru_config", JSON), so that one file rebuilds the model.
#pragma once
#include <string>

#include "pipelines/config.h"
#include "models/lru_config.h"
#include "models/lru_rec.h"

namespace llamarec {

// The model config from the [retriever] section and the dataset's item count.
LruConfig lru_config_from(const RetrieverConfig& retriever, int64_t num_items, const std::string& where);

// Atomic write (temp file + rename).
void save_retriever(const std::string& path, LruRec& model);
// Builds the model from the file's metadata and loads its parameters (eval mode). Errors name the
// file (missing, not a llamarec retriever, wrong tensors).
LruRec load_retriever(const std::string& path);

}  // namespace llamarec
