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
// {"bytes", "sampled_fnv1a64", "mtime_ns"}: 64 blocks of 256 KiB (core/content_hash.h), since reading
// a multi-gigabyte file at every start costs more than it guards, and the modification time, which
// the releases before the sampled digest recorded instead. Null when `path` is not a regular file.
nlohmann::json describe_input_file(const std::string& path, uintmax_t whole_digest_limit = kWholeDigestLimit);

// Whether two descriptions (describe_input_file, possibly of different releases) are of the same
// content: compared on the fields both hold, the mtime only where one of them lacks the sampled
// digest (so that a copy staged to local scratch, with its own mtime, is the same input while a
// description from before the sampled digest still matches its unchanged file). Null matches null.
bool same_input(const nlohmann::json& recorded, const nlohmann::json& now);

}  // namespace llamarec
