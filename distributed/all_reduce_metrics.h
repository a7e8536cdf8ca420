// Ranking metrics of one rank's users -> the metrics of all users: the exact per-user sums are
// summed over ranks (core/ranking_metrics.h), so the result equals a single process's.
#pragma once
#include "core/ranking_metrics.h"
#include "distributed/communicator.h"

namespace llamarec {

void all_reduce_metrics(RankingMetrics& metrics, Communicator& comm);

}  // namespace llamarec
