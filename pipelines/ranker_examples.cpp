#include "pipelines/ranker_examples.h"

#include <algorithm>
#include <random>
#include <unordered_set>

#include "core/error.h"
#include "pipelines/training/seed_policy.h"

namespace llamarec {

std::vector<RankerExample> make_ranker_train_examples(const SequenceDataset& shard, int64_t num_candidates,
                                                      uint64_t seed) {
  const int64_t num_items = shard.num_items();
  if (num_candidates < 2) fail("ranker: num_candidates must be >= 2, got {}", num_candidates);
  std::vector<RankerExample> out;
  std::unordered_set<int64_t> prefix;
  for (int64_t local = 0; local < shard.num_local_users(); ++local) {
    const auto train = shard.train_items(local);
    prefix.clear();
    for (int64_t i = 2; i <= train.size; ++i) {
      prefix.insert(train[i - 2]);
      const int64_t target = train[i - 1];
      // Items that can serve as negatives: all but the prefix and the target.
      const int64_t available = num_items - static_cast<int64_t>(prefix.size()) - (prefix.count(target) ? 0 : 1);
      if (available < num_candidates - 1) {
        fail(
            "{}: user {} has only {} items left as negatives at prefix {}, fewer than the {} needed "
            "(ranker.num_candidates is too large for {} items)",
            shard.path(), shard.global_user(local), available, i - 1, num_candidates - 1, num_items);
      }
      std::mt19937_64 rng(ranker_example_seed(seed, shard.global_user(local), i));
      std::uniform_int_distribution<int64_t> item(1, num_items);
      RankerExample ex;
      ex.local_user = local;
      ex.history_end = i - 1;
      ex.candidates.push_back(target);
      while (static_cast<int64_t>(ex.candidates.size()) < num_candidates) {
        const int64_t c = item(rng);
        if (prefix.count(c) || std::find(ex.candidates.begin(), ex.candidates.end(), c) != ex.candidates.end())
          continue;
        ex.candidates.push_back(c);
      }
      std::shuffle(ex.candidates.begin(), ex.candidates.end(), rng);
      ex.answer = std::find(ex.candidates.begin(), ex.candidates.end(), target) - ex.candidates.begin();
      out.push_back(std::move(ex));
    }
  }
  return out;
}

void check_candidates_fit(const Candidates& candidates, const SequenceDataset& shard, int64_t num_candidates,
                          const std::string& where) {
  if (num_candidates > candidates.k)
    fail("{}: ranker.num_candidates {} exceeds the {} candidates per user in this file", where, num_candidates,
         candidates.k);
  if (candidates.num_users != shard.num_users() || candidates.num_items != shard.num_items())
    fail("{}: candidates are for {} users / {} items but the dataset {} has {} / {} (retrieved from another dataset?)",
         where, candidates.num_users, candidates.num_items, shard.path(), shard.num_users(), shard.num_items());
}

Candidates read_ranker_candidates(const std::string& path, const SequenceDataset& shard, int64_t num_candidates) {
  auto candidates = read_candidates(path);
  check_candidates_fit(candidates, shard, num_candidates, path);
  return candidates;
}

std::vector<RankerExample> make_ranker_eval_examples(const SequenceDataset& shard, const Candidates& candidates,
                                                     Split split, int64_t num_candidates) {
  const auto& part = split == Split::kVal ? candidates.val : candidates.test;
  check_candidates_fit(candidates, shard, num_candidates, "candidates");
  const auto users = part.user.contiguous();
  const auto items = part.items.contiguous();
  const auto labels = part.label.contiguous();
  const auto scores = part.scores.to(torch::kFloat32).contiguous();
  const auto* sc = scores.data_ptr<float>();
  const auto* u = users.data_ptr<int64_t>();
  const auto* it = items.data_ptr<int64_t>();
  const auto* lab = labels.data_ptr<int64_t>();
  const int64_t k = items.size(1);
  std::vector<RankerExample> out;
  for (int64_t row = 0; row < users.size(0); ++row) {
    if (u[row] < shard.user_begin() || u[row] >= shard.user_end()) continue;
    const int64_t local = u[row] - shard.user_begin();
    const auto eval = shard.example(local, split);
    if (eval.target != lab[row])
      fail("candidates file disagrees with {} on user {}'s {} item ({} vs {})", shard.path(), u[row],
           split == Split::kVal ? "val" : "test", lab[row], eval.target);
    const int64_t* top = it + row * k;
    const auto hit = std::find(top, top + num_candidates, lab[row]);
    if (hit == top + num_candidates) continue;
    RankerExample ex;
    ex.local_user = local;
    ex.history_end = eval.history.size;
    ex.candidates.assign(top, top + num_candidates);
    ex.answer = hit - top;
    ex.retriever_rank = ex.answer + 1;
    ex.retriever_scores.assign(sc + row * k, sc + row * k + num_candidates);
    out.push_back(std::move(ex));
  }
  return out;
}

std::vector<int32_t> example_history(const SequenceDataset& shard, const RankerExample& example) {
  const auto items = shard.items(example.local_user);
  if (example.history_end > items.size) fail("ranker example history beyond the user's items");
  return std::vector<int32_t>(items.begin(), items.begin() + example.history_end);
}

}  // namespace llamarec
