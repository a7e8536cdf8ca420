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
  std::string name;  // "dataset", "candidates", "base_config", "tokenizer"
  std::string path;
};

// The ranker's base as it reads it: the config.json of ranker.model (or of the built-in Llama's
// directory when that is empty) and the tokenizer (ranker.tokenizer, else the base's tokenizer.model).
std::vector<InputFile> ranker_base_files(const Config& config);

// {"bytes", "fnv1a64"}: the content digest, for files up to 512 MiB; above that {"bytes", "mtime_ns"},
// since hashing a multi-gigabyte file at every start costs more than it guards. Null when `path` is
// not a regular file.
nlohmann::json describe_input_file(const std::string& path);

}  // namespace llamarec
