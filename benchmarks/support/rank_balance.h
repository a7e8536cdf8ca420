// How evenly the ranks of a data-parallel step compute. A rank that finishes its forward and
// backward early waits in the gradient all-reduce for the slowest one; from every rank's per-step
// compute time (StepProfile) this says how much waiting the differences explain, and splits them into
// what one rank pays on average (a systematic imbalance: the share's cost model, a slower core) and
// what varies from step to step around that (jitter, which no assignment of work can remove).
#pragma once
#include <nlohmann/json.hpp>

#include "benchmarks/support/step_profile.h"
#include "distributed/communicator.h"

namespace llamarec {

// Collective: every rank calls it with its own profile of the same steps. Rank 0 prints the table and
// returns {"steps", "ranks": [{"rank", "compute_ms": {mean, p10, p50, p90}, "all_reduce_ms",
// "wait_explained_ms", "systematic_ms"}], "jitter_sd_ms"}; the other ranks return null.
nlohmann::json print_rank_balance(Communicator& comm, const StepProfile& profile);

}  // namespace llamarec
