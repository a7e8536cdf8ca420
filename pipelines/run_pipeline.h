// `llamarec run CONFIG`: preprocess -> train-retriever -> retrieve -> train-ranker -> evaluate
// (retriever and ranker) in one run directory. A stage that finished leaves a marker
// (<run.dir>/.done/<stage>); later runs skip it, so a crashed run continues where it stopped (the
// training stages also resume mid-way from their own state).
#pragma once
#include <string>
#include <vector>

#include "core/config.h"
#include "distributed/mpi_context.h"

namespace llamarec {

struct StageTiming {
  std::string stage;
  double seconds = 0;
  bool skipped = false;
};

// `stages`: which to run, in pipeline order (empty: all). Returns per-stage wall times, which rank 0
// also stores under "timings" in <eval.metrics>.
std::vector<StageTiming> run_pipeline(const Config& config, const MpiContext& mpi,
                                      const std::vector<std::string>& stages = {});

// Every stage name in pipeline order.
const std::vector<std::string>& pipeline_stages();

}  // namespace llamarec
