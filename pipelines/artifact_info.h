// `llamarec info PATH` on anything a run leaves behind, told apart by its contents:
//   dataset.h5        users, items, lengths, popularity, provenance (pipelines/dataset_info.h)
//   candidates.h5     users, k, the share of users whose answer is in the top 1/5/10/20, provenance
//   retriever .safetensors   its config (from the metadata) and parameter count
//   a PEFT adapter directory  PEFT config (r, alpha, targets, base) and parameter count
//   a Hugging Face Llama directory (the built-in one too)  its config and parameter count
//   a run directory   stages done with their times, the results table, the manifest's commit
#pragma once
#include <string>

namespace llamarec {

// The report for `path`; an error naming it when it is none of the above.
std::string artifact_info(const std::string& path);

}  // namespace llamarec
