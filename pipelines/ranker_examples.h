// The ranker's examples (docs/llamarec.md, "Ranker").
//
// Training: every user, every prefix of the train list: for i = 2..|train| the target is train[i-1]
// and the history train[:i-1]; the candidates are the target plus num_candidates-1 negatives drawn
// uniformly from all items, never an item of the prefix nor the target, then shuffled, so the
// answer letter is uniform (ranker.train_order = random, the reference's; see below for the others). Deviation from the
// reference: negatives are distinct (the reference may draw one twice, showing the same title under two letters). The
// draws come from an RNG seeded by (seed, global user, i), so the examples are the same for any number of ranks.
//
// Validation / test: users whose held-out item is among the retriever's top num_candidates
// ("valid retrieval subset"), candidates in retriever order (A = best), not shuffled.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/candidates_file.h"
#include "core/sequence_dataset.h"
#include "pipelines/config.h"

namespace llamarec {

struct RankerExample {
  int64_t local_user = 0;               // in the shard
  int64_t history_end = 0;              // history = the user's items[:history_end]
  std::vector<int64_t> candidates;      // item ids in letter order
  int64_t answer = 0;                   // index of the target in candidates
  int64_t retriever_rank = 0;           // eval: 1-based rank of the target in the retriever's list
  std::vector<float> retriever_scores;  // eval: the retriever's score of each candidate
};

// This shard's training examples in (user, prefix) order. `order` (ranker.train_order) other than
// random reads the retriever's top candidates of every prefix from `candidates` (/train, written by
// retrieve): retriever = those in retriever order (answer = its retriever rank; prefixes whose
// target is not among them are left out), mix = retriever or random per prefix with equal odds
// (seeded as the negatives; a missed target falls back to random). `where` names the candidates file
// in errors.
std::vector<RankerExample> make_ranker_train_examples(const SequenceDataset& shard, int64_t num_candidates,
                                                      uint64_t seed, TrainOrderChoice order = TrainOrderChoice::kRandom,
                                                      const Candidates* candidates = nullptr,
                                                      const std::string& where = "candidates");

// Fails, naming `where`, when the candidates were retrieved for another dataset or hold fewer than
// num_candidates per user.
void check_candidates_fit(const Candidates& candidates, const SequenceDataset& shard, int64_t num_candidates,
                          const std::string& where);
// read_candidates, then check_candidates_fit: done before the model loads, so that a mismatch fails
// in a second, not after minutes of loading a 7B base.
Candidates read_ranker_candidates(const std::string& path, const SequenceDataset& shard, int64_t num_candidates);

// This shard's users of the valid retrieval subset of `split`. `candidates` holds every user.
std::vector<RankerExample> make_ranker_eval_examples(const SequenceDataset& shard, const Candidates& candidates,
                                                     Split split, int64_t num_candidates);

// The history items of an example (chronological).
std::vector<int32_t> example_history(const SequenceDataset& shard, const RankerExample& example);

}  // namespace llamarec
