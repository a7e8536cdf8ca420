// `llamarec train-retriever`: data-parallel LRURec training (spec §2.2-2.3). Each rank trains on the
// examples of every global batch that belong to its user shard; gradients and the label-token count
// are all-reduced in one flat bucket per step, so the update equals the single-process one for any
// number of ranks. Validation (Recall@10) every val_interval iterations, best model kept, early
// stopping with patience, and resumable training state.
#pragma once
#include <string>
#include <vector>

#include "core/config.h"
#include "distributed/communicator.h"

namespace llamarec {

struct ValidationPoint {
  int64_t iteration = 0;
  int64_t epoch = 0;
  double train_loss = 0;  // mean over label tokens since the previous validation
  double recall10 = 0;
  double ndcg10 = 0;
  double mrr10 = 0;
  double seconds = 0;  // wall time since the start of training
};

struct RetrieverTrainResult {
  int64_t iterations = 0;
  int64_t iterations_run = 0;  // by this call (less than `iterations` after a resume)
  int64_t best_iteration = 0;
  double best_recall10 = 0;
  double seconds = 0;
  double seconds_to_best = 0;
  double seconds_per_iteration = 0;  // training steps only (validation excluded), this call
  double validation_seconds = 0;     // this call
  bool early_stopped = false;
  std::vector<ValidationPoint> curve;
};

// Trains and writes <retriever.checkpoint> (best by val Recall@10), <checkpoint>.state/ (resume),
// and <checkpoint>.curve.json (validation curve). Resumes when a state for the same config exists.
RetrieverTrainResult train_retriever(const Config& config, Communicator& comm);

}  // namespace llamarec
