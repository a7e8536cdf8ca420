// `llamarec run`: every stage of the stage table (pipelines/stages.h) in one run directory. A stage
// that finished leaves a marker (<run.dir>/.done/<stage>); later runs skip it, so a crashed run
// continues where it stopped (the training stages also resume mid-way from their own state).
#pragma once
#include <string>
#include <vector>

#include "pipelines/config.h"
#include "distributed/communicator.h"

namespace llamarec {

struct StageTiming {
  std::string stage;
  double seconds = 0;
  bool skipped = false;
};

// `stages`: which to run (empty: all), always in pipeline order. `control` (any communicator of the
// world) orders the ranks between stages. Returns per-stage wall times, which rank 0 also merges
// into "timings" of <eval.metrics>.
std::vector<StageTiming> run_pipeline(const Config& config, Communicator& control,
                                      const std::vector<std::string>& stages = {});

}  // namespace llamarec
