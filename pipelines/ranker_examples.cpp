#include "pipelines/ranker_examples.h"

#include <algorithm>
#include <random>
#include <unordered_set>

#include "core/error.h"
#include "pipelines/training/seed_policy.h"

namespace llamarec {

namespace {

// The retriever's rows of this shard's training prefixes (candidates.h5 /train), in the order
// make_ranker_train_examples walks them.
class TrainRows {
 public:
  TrainRows(const Candidates* candidates, const SequenceDataset& shard, const std::string& where)
      : where_(where), shard_(shard) {
    if (candidates == nullptr) return;
    if (!candidates->has_train())
      fail(
          "{}: no retriever candidates for the training prefixes (/train): run retrieve again with this "
          "ranker.train_order",
          where);
    const auto& t = candidates->train;
    user_ = t.user.contiguous();
    end_ = t.history_end.contiguous();
    items_ = t.items.contiguous();
    scores_ = t.scores.to(torch::kFloat32).contiguous();
    k_ = items_.size(1);
    const auto* u = user_.data_ptr<int64_t>();
    row_ = std::lower_bound(u, u + user_.numel(), shard.user_begin()) - u;
  }

  // The next row, which must be (local user, history_end).
  int64_t next(int64_t local, int64_t history_end) {
    const int64_t global = shard_.global_user(local);
    if (row_ >= user_.numel() || user_.data_ptr<int64_t>()[row_] != global ||
        end_.data_ptr<int64_t>()[row_] != history_end)
      fail(
          "{}: /train rows do not match the training prefixes of {} (user {}, prefix {}): retrieved for another "
          "dataset? Run retrieve again",
          where_, shard_.path(), global, history_end);
    return row_++;
  }
  const int64_t* items(int64_t row) const { return items_.data_ptr<int64_t>() + row * k_; }
  const float* scores(int64_t row) const { return scores_.data_ptr<float>() + row * k_; }

 private:
  std::string where_;
  const SequenceDataset& shard_;
  torch::Tensor user_, end_, items_, scores_;
  int64_t k_ = 0, row_ = 0;
};

}  // namespace

std::vector<RankerExample> make_ranker_train_examples(const SequenceDataset& shard, int64_t num_candidates,
                                                      uint64_t seed, TrainOrderChoice order,
                                                      const Candidates* candidates, const std::string& where) {
  const int64_t num_items = shard.num_items();
  if (num_candidates < 2) fail("ranker: num_candidates must be >= 2, got {}", num_candidates);
  if (order != TrainOrderChoice::kRandom && candidates == nullptr)
    fail("ranker.train_order {} needs the retriever's candidates", enum_name(order));
  if (candidates != nullptr) check_candidates_fit(*candidates, shard, num_candidates, where);
  TrainRows rows(order == TrainOrderChoice::kRandom ? nullptr : candidates, shard, where);
  std::vector<RankerExample> out;
  std::unordered_set<int64_t> prefix;
  for (int64_t local = 0; local < shard.num_local_users(); ++local) {
    const auto train = shard.train_items(local);
    prefix.clear();
    for (int64_t i = 2; i <= train.size; ++i) {
      prefix.insert(train[i - 2]);
      const int64_t target = train[i - 1];
      std::mt19937_64 rng(ranker_example_seed(seed, shard.global_user(local), i));
      RankerExample ex;
      ex.local_user = local;
      ex.history_end = i - 1;
      if (order != TrainOrderChoice::kRandom) {
        const int64_t row = rows.next(local, i - 1);
        const int64_t* top = rows.items(row);
        const auto hit = std::find(top, top + num_candidates, target);
        const bool retrieved = hit != top + num_candidates;
        // mix: a fair coin per prefix, drawn first so that it does not depend on the negatives.
        const bool use_retriever = order == TrainOrderChoice::kRetriever || std::bernoulli_distribution(0.5)(rng);
        if (use_retriever && retrieved) {
          ex.candidates.assign(top, top + num_candidates);
          ex.answer = hit - top;
          ex.retriever_rank = ex.answer + 1;
          ex.retriever_scores.assign(rows.scores(row), rows.scores(row) + num_candidates);
          out.push_back(std::move(ex));
          continue;
        }
        if (order == TrainOrderChoice::kRetriever) continue;  // as the evaluation's valid retrieval subset
      }
      // Items that can serve as negatives: all but the prefix and the target.
      const int64_t available = num_items - static_cast<int64_t>(prefix.size()) - (prefix.count(target) ? 0 : 1);
      if (available < num_candidates - 1) {
        fail(
            "{}: user {} has only {} items left as negatives at prefix {}, fewer than the {} needed "
            "(ranker.num_candidates is too large for {} items)",
            shard.path(), shard.global_user(local), available, i - 1, num_candidates - 1, num_items);
      }
      std::uniform_int_distribution<int64_t> item(1, num_items);
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
