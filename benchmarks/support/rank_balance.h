// How evenly the ranks of a data-parallel step compute. A rank that finishes its forward and
// backward early waits in the gradient all-reduce for the slowest one; from every rank's per-step
// compute time (StepProfile: forward + backward less the batch share's all-gather, where the ranks
// meet first) this says how much waiting the differences explain, and splits them into what one rank
// pays on average (a systematic imbalance: the share's cost model, a slower core, work only one rank
// does) and one rank's step-to-step noise around that (jitter, which no assignment of work removes).
#pragma once
#include <nlohmann/json.hpp>

#include <vector>

#include "benchmarks/support/step_profile.h"
#include "distributed/communicator.h"

namespace llamarec {

// Collective: every rank calls it with its own profile of the same steps. Rank 0 prints the table and
// returns {"steps", "ranks": [{"rank", "compute_ms": {mean, p10, p50, p90}, "all_reduce_ms",
// "wait_explained_ms", "systematic_ms"}], "jitter_sd_ms"}; the other ranks return null. Needs the
// trainer's phases and the "dp.balanced_share" scope (distributed/balanced_rows.h) in the profile.
nlohmann::json print_rank_balance(Communicator& comm, const StepProfile& profile);

// The same figures from all ranks' compute ms per step (compute[rank][step], as many steps each) and
// mean all-reduce ms per rank, without printing.
nlohmann::json rank_balance(const std::vector<std::vector<double>>& compute, const std::vector<double>& all_reduce_ms);

}  // namespace llamarec
