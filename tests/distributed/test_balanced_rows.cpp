// balanced_share: every row of the global batch computed by exactly one rank, loads as the
// longest-processing-time rule gives them, the same answer on every rank; identity on one rank.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "core/error.h"
#include "distributed/balanced_rows.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

class BalancedShareMpi : public ::testing::Test {
 protected:
  std::unique_ptr<Communicator> comm = make_communicator("mpi");
};

// Row i of rank r holds [100 r + i, cost] so that a share tells where each row came from.
torch::Tensor rows_of(int rank, const std::vector<double>& costs) {
  auto rows = torch::zeros({static_cast<int64_t>(costs.size()), 2}, torch::kLong);
  for (size_t i = 0; i < costs.size(); ++i) {
    rows[static_cast<int64_t>(i)][0] = 100 * rank + static_cast<int64_t>(i);
    rows[static_cast<int64_t>(i)][1] = static_cast<int64_t>(costs[i]);
  }
  return rows;
}

TEST_F(BalancedShareMpi, OneRankKeepsItsRows) {
  if (comm->size() != 1) GTEST_SKIP() << "the one-rank case";
  const auto rows = rows_of(0, {3, 1, 2});
  const auto share = balanced_share(*comm, rows, torch::tensor({3.0, 1.0, 2.0}, torch::kDouble), 4);
  EXPECT_TRUE(torch::equal(share.rows, rows));
  EXPECT_EQ(share.cost, 6);
  EXPECT_EQ(share.max_cost, 6);
}

TEST_F(BalancedShareMpi, TwoRanksSplitByLongestFirst) {
  LLAMAREC_REQUIRE_WORLD(2);
  // Rank 0 owns three rows (5, 1, 1), rank 1 one (4): 5 → r0, 4 → r1, 1 → r1 (4 < 5), 1 → r0 (tie:
  // the lower rank), i.e. loads 6 and 5 instead of 7 and 4.
  const std::vector<double> costs = comm->rank() == 0 ? std::vector<double>{5, 1, 1} : std::vector<double>{4};
  const auto share = balanced_share(*comm, rows_of(comm->rank(), costs), torch::tensor(costs, torch::kDouble), 4);
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < share.rows.size(0); ++i) ids.push_back(share.rows[i][0].item<int64_t>());
  if (comm->rank() == 0) {
    EXPECT_EQ(ids, (std::vector<int64_t>{0, 2}));
    EXPECT_EQ(share.cost, 6);
  } else {
    EXPECT_EQ(ids, (std::vector<int64_t>{1, 100}));
    EXPECT_EQ(share.cost, 5);
  }
  EXPECT_EQ(share.max_cost, 6);
  // Every row somewhere, exactly once.
  torch::Tensor count = torch::tensor({share.rows.size(0)}, torch::kLong);
  comm->all_reduce(count);
  EXPECT_EQ(count.item<int64_t>(), 4);
}

TEST_F(BalancedShareMpi, ARankWithoutRowsStillGetsAShare) {
  LLAMAREC_REQUIRE_WORLD(2);
  const std::vector<double> costs = comm->rank() == 0 ? std::vector<double>{2, 2, 2, 2} : std::vector<double>{};
  const auto share = balanced_share(*comm, rows_of(comm->rank(), costs), torch::tensor(costs, torch::kDouble), 4);
  EXPECT_EQ(share.rows.size(0), 2);
  EXPECT_EQ(share.cost, 4);
}

TEST_F(BalancedShareMpi, RejectsInconsistentArguments) {
  const auto rows = rows_of(comm->rank(), {1, 1});
  EXPECT_NE(testing::error_of([&] {
              balanced_share(*comm, rows, torch::ones({3}, torch::kDouble), 4);
            }).find("3 costs for 2 rows"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] {
              balanced_share(*comm, rows, torch::ones({2}, torch::kDouble), 1);
            }).find("exceed the bound"),
            std::string::npos);
}

}  // namespace
}  // namespace llamarec
