// What every stage does first: logging for this rank, LibTorch threads, the run directory and the
// effective config (printed and saved by rank 0).
#pragma once
#include "pipelines/config.h"
#include "distributed/mpi_context.h"

namespace llamarec {

struct RunSetupOptions {
  bool save_config = true;   // write <run.dir>/config.<stage>.toml
  bool print_config = true;  // log the effective config on rank 0 (debug level)
  std::string stage = "run";
};

// Returns the number of LibTorch threads chosen for this rank: run.threads, or where that is 0 the
// rank's CPUs (its affinity) shared among the node's ranks bound to the same ones (core/cpu_affinity.h,
// MpiContext::node_cpus). OMP_NUM_THREADS plays no part.
int setup_run(const Config& config, const MpiContext& mpi, const RunSetupOptions& options = {});

// Rank 0 records what `stage` was produced by (pipelines/run_manifest.h) in metrics.json. Called
// once the stage has succeeded, so that a failed stage leaves no metrics file behind.
void record_run_manifest(const Config& config, const MpiContext& mpi, int threads, const std::string& stage);

}  // namespace llamarec
