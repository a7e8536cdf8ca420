// What a ranker evaluation derives from the verbalizer's letter logits (docs/llamarec.md, "Ranker
// controls"): the ranking under each scoring method (one order or an average over several,
// calibrated or not, fused with the retriever or not), the model's letter prior, and its bias
// profile by letter slot. Everything here is this rank's examples; the metrics, prior, weight and
// profile are all-reduced, so they equal a single process's.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/ranking_metrics.h"
#include "distributed/communicator.h"
#include "pipelines/candidate_orders.h"
#include "pipelines/ranker_examples.h"

namespace llamarec {

struct ScoredExamples {
  torch::Tensor logits;                             // [E, O, C] float32, by letter slot
  std::vector<std::vector<CandidateOrder>> orders;  // [E][O]
  torch::Tensor answers;                            // [E] int64: the answer's index in candidates
  torch::Tensor retriever_ranks;                    // [E] int64, 1-based
  torch::Tensor retriever_log_probs;                // [E, C]: log-softmax of the retriever's scores
};

// `logits` from score_in_orders over examples[0 .. E) with orders[0 .. E).
ScoredExamples scored_examples(torch::Tensor logits, const std::vector<RankerExample>& examples,
                               const std::vector<std::vector<CandidateOrder>>& orders);

struct ScoreMethod {
  std::vector<int64_t> orders;  // which of the O orders to average
  // Average each candidate's letter log-probability over the orders (false), or its probability
  // (true). The mean log-probability ranks exactly as the mean raw logit would: a prompt's softmax
  // offset is the same for all of its candidates. The mean probability weighs confident orders more.
  bool mean_probabilities = false;
  torch::Tensor log_prior;     // [C] subtracted per letter slot (contextual calibration); undefined: none
  double fusion_weight = 0.0;  // plus this times the retriever's log-probabilities
};

// [E, C] per-candidate scores of a method (candidates in retriever order).
torch::Tensor method_scores(const ScoredExamples& scored, const ScoreMethod& method);
RankingMetrics method_metrics(const ScoredExamples& scored, const ScoreMethod& method, Communicator& comm,
                              const std::vector<int64_t>& ks);
// The retriever's own ranking of the same examples.
RankingMetrics retriever_metrics(const ScoredExamples& scored, Communicator& comm, const std::vector<int64_t>& ks);

// Contextual calibration (Zhao et al. 2021): the model's prior over letter slots, the mean over
// examples and `orders` of the softmax over letters [C], as a log. Estimated on validation prompts
// in shuffled orders, where the answer's slot is uniform, so that what is left is the letters' bias.
// Undefined when there are no examples on any rank.
torch::Tensor letter_log_prior(const ScoredExamples& scored, const std::vector<int64_t>& orders, Communicator& comm);

// The fusion weight of `grid` whose method scores the highest NDCG@10 here (the first on ties).
double choose_fusion_weight(const ScoredExamples& scored, ScoreMethod method, const std::vector<double>& grid,
                            Communicator& comm);

// The bias profile of one order, per letter slot: how many answers were shown there, how many of
// those the model ranked first, and how often the model's top letter was that slot.
struct SlotProfile {
  std::vector<double> answers, hits, picks;
};
SlotProfile slot_profile(const ScoredExamples& scored, int64_t order, Communicator& comm);

}  // namespace llamarec
