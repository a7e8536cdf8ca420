#include <gtest/gtest.h>

#include <random>

#include "benchmarks/support/rank_balance.h"
#include "core/error.h"

namespace llamarec {
namespace {

// Worked by hand: step means 11, 12, 13, 13; rank 0 is 1, 0, 2, 0 below them and waits 2, 0, 4, 0.
TEST(RankBalance, SmallCaseByHand) {
  const auto b = rank_balance({{10, 12, 11, 13}, {12, 12, 15, 13}}, {3.0, 1.0});
  EXPECT_EQ(b["steps"].get<int>(), 4);
  const auto& r0 = b["ranks"][0];
  const auto& r1 = b["ranks"][1];
  EXPECT_DOUBLE_EQ(r0["systematic_ms"].get<double>(), -0.75);
  EXPECT_DOUBLE_EQ(r1["systematic_ms"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(r0["wait_explained_ms"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(r1["wait_explained_ms"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(r0["compute_ms"]["mean"].get<double>(), 11.5);
  EXPECT_DOUBLE_EQ(r1["compute_ms"]["p50"].get<double>(), 12.5);
  EXPECT_DOUBLE_EQ(r0["all_reduce_ms"].get<double>(), 3.0);
  // Residuals around each rank's offset: 2.75 per rank, over (2 - 1)(4 - 1) degrees of freedom.
  EXPECT_DOUBLE_EQ(b["jitter_sd_ms"].get<double>(), std::sqrt(5.5 / 3));
}

// compute = the step's work (which varies a lot) + a rank offset + independent noise: the offsets
// and the noise's standard deviation come back, whatever the work does.
TEST(RankBalance, SeparatesOffsetFromJitter) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> work(20, 80);
  std::normal_distribution<double> noise(0, 2.0);
  const std::vector<double> offset = {0, 3, -1.5};
  std::vector<std::vector<double>> compute(3);
  for (int s = 0; s < 4000; ++s) {
    const double w = work(rng);
    for (size_t r = 0; r < 3; ++r) compute[r].push_back(w + offset[r] + noise(rng));
  }
  const auto b = rank_balance(compute, {0, 0, 0});
  const double mean_offset = (0 + 3 - 1.5) / 3.0;
  for (size_t r = 0; r < 3; ++r)
    EXPECT_NEAR(b["ranks"][r]["systematic_ms"].get<double>(), offset[r] - mean_offset, 0.1) << "rank " << r;
  EXPECT_NEAR(b["jitter_sd_ms"].get<double>(), 2.0, 0.1);
  // The fastest on average (rank 2) waits longest.
  EXPECT_GT(b["ranks"][2]["wait_explained_ms"].get<double>(), b["ranks"][0]["wait_explained_ms"].get<double>());
}

TEST(RankBalance, RejectsRagged) {
  EXPECT_THROW(rank_balance({{1, 2}, {1}}, {0, 0}), Error);
  EXPECT_THROW(rank_balance({{1, 2}}, {0, 0}), Error);
  EXPECT_THROW(rank_balance({}, {}), Error);
}

}  // namespace
}  // namespace llamarec
