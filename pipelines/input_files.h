// The files a stage reads that another stage or another program wrote, and how to tell whether they
// changed: what the run manifest records (run_manifest.h) and what a saved training state must have
// been trained on to be resumed (training/run_identity.h).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pipelines/config.h"

namespace llamarec {

struct InputFile {
  std::string name;  // "dataset", "candidates", "base_config", "base_weights/<file>", "tokenizer"
  std::string path;
};

// The ranker's base as it reads it: the config.json of ranker.model (or of the built-in Llama's
// directory when that is empty), its weights (model.safetensors, or the index and every shard it
// names; "base_weights/<file name>") and the tokenizer (ranker.tokenizer, else the base's
// tokenizer.model). A base whose weights cannot be opened gives one "base_weights" entry (its
// model.safetensors, which describe_input_file then describes as null or as whatever it holds).
std::vector<InputFile> ranker_base_files(const Config& config);

inline constexpr uintmax_t kWholeDigestLimit = uintmax_t{512} << 20;

// {"bytes", "fnv1a64"}: the content digest, for files up to `whole_digest_limit`; above that
// {"bytes", "sampled_fnv1a64"}: 64 blocks of 256 KiB (core/content_hash.h), since reading a
// multi-gigabyte file at every start costs more than it guards. Both depend on the bytes only, so a
// copy of an input (staged to node-local scratch by each job) is the same input. Null when `path`
// is not a regular file.
nlohmann::json describe_input_file(const std::string& path, uintmax_t whole_digest_limit = kWholeDigestLimit);

}  // namespace llamarec
