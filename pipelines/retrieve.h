// `llamarec retrieve` and `llamarec evaluate-retriever` (docs/llamarec.md, "Retriever", "Metrics"): users are sharded
// across ranks, each rank scores its users against all items with the input window masked, and
// rank 0 writes the complete, user-ordered top-k (candidates.h5) or the metrics (metrics.json).
#pragma once
#include <map>
#include <string>

#include "pipelines/config.h"
#include "core/ranking_metrics.h"
#include "distributed/communicator.h"

namespace llamarec {

struct SplitMetrics {
  MetricMap val;
  MetricMap test;
  int64_t users = 0;  // users with an evaluation example
};

// Writes <retrieval.candidates>; returns the exact full-ranking metrics of both splits.
SplitMetrics run_retrieve(const Config& config, Communicator& comm);

// Exact full-ranking metrics @1,5,10,20,50 of the trained retriever on val and test; rank 0 stores
// them under "retriever" in <eval.metrics>.
SplitMetrics run_evaluate_retriever(const Config& config, Communicator& comm);

}  // namespace llamarec
