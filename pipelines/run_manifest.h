// What a result was produced by, so that a metrics.json can be traced and compared: the binary's
// git commit, the effective config's digest, digests of the input files, world size and threads,
// and the versions of LibTorch, MPI, HDF5 and NCCL. Written by every stage into metrics.json under
// "manifest" -> <stage>.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "distributed/mpi_context.h"
#include "pipelines/config.h"

namespace llamarec {

// Input files (data.input and data.meta; after preprocessing also the dataset, the candidates, the
// ranker base's config.json and tokenizer) get their content digest when at most 512 MiB, else
// their size and modification time; missing ones are left out.
nlohmann::json run_manifest(const Config& config, const MpiContext& mpi, int threads, const std::string& stage);

// The git commit this binary was built from ("unknown" outside a git checkout).
const char* build_commit();

}  // namespace llamarec
