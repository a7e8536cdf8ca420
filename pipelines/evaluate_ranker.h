// `llamarec evaluate-ranker` (docs/llamarec.md, "Metrics" and "Ranker controls"): the trained adapter
// ranks the retriever's top-20 of every test user whose answer was retrieved (the valid retrieval
// subset). Reported: the configured method's subset metrics (LlamaRec Table 3) and overall metrics
// = subset · |subset| / N (Table 1; users outside the subset count as misses); beside them, on the
// same users, the controls that tell ranking apart from the letter prior: the ranker on retriever
// order, on a seeded shuffle and averaged over shuffles, each also calibrated; fused with the
// retriever; the retriever's own metrics; the random-order expectation; and the accuracy by the
// answer's letter slot. The letter prior and the fusion weight are estimated on validation prompts.
// Users are sharded across ranks; metric sums are all-reduced.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "distributed/communicator.h"
#include "pipelines/config.h"

namespace llamarec {

struct RankerControl {
  std::string name;  // "retriever_order", "shuffled", "permutations", ..._calibrated, "fused"
  std::map<std::string, double> subset, subset_se;
};

struct RankerMetrics {
  std::map<std::string, double> ranker_subset, ranker_overall, ranker_subset_se;
  std::map<std::string, double> retriever_subset, retriever_overall;
  std::vector<RankerControl> controls;
  int64_t subset_users = 0;
  int64_t users = 0;  // N: users with a test example
};

// split: "test" (default) or "val". Rank 0 writes "ranker" (or "ranker_val") into <eval.metrics>.
RankerMetrics run_evaluate_ranker(const Config& config, Communicator& comm, const std::string& split = "test");

}  // namespace llamarec
