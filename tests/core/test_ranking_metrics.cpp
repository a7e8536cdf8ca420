#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/ranking_metrics.h"

namespace llamarec {
namespace {

TEST(RankingMetrics, ClosedFormRanks) {
  RankingMetrics m({1, 5, 10});
  m.add_ranks(torch::tensor({1, 3, 7, 20, 0}, torch::kLong));  // 0 = not retrieved
  const auto v = m.means();
  EXPECT_EQ(m.count(), 5);
  EXPECT_DOUBLE_EQ(v.at("Recall@1"), 1.0 / 5);
  EXPECT_DOUBLE_EQ(v.at("Recall@5"), 2.0 / 5);
  EXPECT_DOUBLE_EQ(v.at("Recall@10"), 3.0 / 5);
  EXPECT_DOUBLE_EQ(v.at("MRR@10"), (1.0 + 1.0 / 3 + 1.0 / 7) / 5);
  EXPECT_DOUBLE_EQ(v.at("NDCG@5"), (1.0 + 1.0 / std::log2(4.0)) / 5);
  EXPECT_DOUBLE_EQ(v.at("NDCG@10"), (1.0 + 1.0 / std::log2(4.0) + 1.0 / std::log2(8.0)) / 5);
  // Recall@10 per user 1, 1, 1, 0, 0: sample variance 0.3.
  EXPECT_NEAR(m.standard_errors().at("Recall@10"), std::sqrt(0.3 / 5), 1e-15);
  EXPECT_DOUBLE_EQ(m.standard_errors().at("Recall@1"), std::sqrt(0.2 / 5));
}

TEST(RankingMetrics, ScoresMatchArgsortRanking) {
  torch::manual_seed(3);
  const auto scores = torch::randn({64, 30});
  const auto label = torch::randint(0, 30, {64}, torch::kLong);
  RankingMetrics m({1, 5, 10, 20});
  m.add_scores(scores, label);
  // Independent reference: position of the label in argsort(-scores).
  const auto order = scores.argsort(1, /*descending=*/true);
  std::vector<int64_t> ranks;
  for (int64_t b = 0; b < 64; ++b) {
    const auto pos = (order[b] == label[b]).nonzero().item<int64_t>();
    ranks.push_back(pos + 1);
  }
  RankingMetrics ref({1, 5, 10, 20});
  ref.add_ranks(torch::tensor(ranks, torch::kLong));
  for (const auto& [k, v] : ref.means()) EXPECT_DOUBLE_EQ(m.means().at(k), v) << k;
}

// A tie never ranks the answer first: its rank is uniform over the tied places.
TEST(RankingMetrics, TiesScoreWhatARandomTieBreakScoresOnAverage) {
  RankingMetrics m({1, 5, 10});
  // Row 0: one higher, the answer tied with two others -> rank uniform on 2..4.
  // Row 1: every score equal -> rank uniform on 1..20, the random-order expectation.
  auto scores = torch::zeros({2, 20});
  scores[0].copy_(torch::arange(20, torch::kFloat32).neg());
  scores[0][0] = 5;
  scores[0][7] = -1;
  scores[0][9] = -1;
  m.add_scores(scores, torch::tensor({1, 3}, torch::kLong));  // row 0's answer (column 1) scores -1
  const auto v = m.means();
  EXPECT_DOUBLE_EQ(v.at("Recall@1"), (0.0 + 1.0 / 20) / 2);
  EXPECT_NEAR(v.at("MRR@5"), ((1.0 / 2 + 1.0 / 3 + 1.0 / 4) / 3 + (1 + 1.0 / 2 + 1.0 / 3 + 1.0 / 4 + 1.0 / 5) / 20) / 2,
              1e-15);
  const auto random = random_order_metrics({1, 5, 10}, 20);
  RankingMetrics constant({1, 5, 10});
  constant.add_scores(torch::full({3, 20}, 2.5), torch::tensor({0, 19, 4}, torch::kLong));
  for (const auto& [k, value] : random) EXPECT_NEAR(constant.means().at(k), value, 1e-15) << k;
  // A NaN answer score is a miss at every k.
  RankingMetrics nan({1, 10});
  auto with_nan = torch::zeros({1, 20});
  with_nan[0][2] = std::numeric_limits<float>::quiet_NaN();
  nan.add_scores(with_nan, torch::tensor({2}, torch::kLong));
  EXPECT_EQ(nan.count(), 1);
  for (const auto& [k, value] : nan.means()) EXPECT_EQ(value, 0.0) << k;
}

TEST(RankingMetrics, SumsCombineExactlyAcrossParts) {
  torch::manual_seed(5);
  const auto ranks = torch::randint(1, 40, {101}, torch::kLong);
  RankingMetrics whole({5, 10}), a({5, 10}), b({5, 10});
  whole.add_ranks(ranks);
  a.add_ranks(ranks.slice(0, 0, 17));  // unequal parts: averaging averages would be wrong
  b.add_ranks(ranks.slice(0, 17));
  RankingMetrics combined({5, 10});
  combined.set_sums(a.sums() + b.sums());
  EXPECT_EQ(combined.count(), 101);
  for (const auto& [k, v] : whole.means()) EXPECT_NEAR(combined.means().at(k), v, 1e-15) << k;
}

}  // namespace
}  // namespace llamarec
