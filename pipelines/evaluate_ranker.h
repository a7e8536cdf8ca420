// `llamarec evaluate-ranker` (docs/llamarec.md, "Metrics"): the trained adapter ranks the retriever's top-20
// of every test user whose answer was retrieved (the valid retrieval subset). Reported: subset
// metrics (LlamaRec Table 3), overall metrics = subset · |subset| / N (Table 1; users outside the
// subset count as misses), and the retriever's own metrics on the same subset and overall, for
// MRR/NDCG/Recall @1,5,10. Users are sharded across ranks; metric sums are all-reduced.
#pragma once
#include <map>
#include <string>

#include "pipelines/config.h"
#include "distributed/communicator.h"

namespace llamarec {

struct RankerMetrics {
  std::map<std::string, double> ranker_subset, ranker_overall;
  std::map<std::string, double> retriever_subset, retriever_overall;
  int64_t subset_users = 0;
  int64_t users = 0;  // N: users with a test example
};

// split: "test" (default) or "val". Rank 0 writes "ranker" (or "ranker_val") into <eval.metrics>.
RankerMetrics run_evaluate_ranker(const Config& config, Communicator& comm, const std::string& split = "test");

}  // namespace llamarec
