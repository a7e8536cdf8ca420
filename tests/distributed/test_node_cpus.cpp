// The exchange behind the thread defaults (MpiContext::node_cpus): every local rank's CPU set, in
// rank order. Runs at np=1 and np=2 on one node, whose ranks are the world.
#include <gtest/gtest.h>

#include "distributed/node_cpus.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using testing::world_rank;
using testing::world_size;

TEST(NodeCpusMpi, EveryRankGetsEveryLocalRanksSet) {
  // Rank r claims CPUs {r, 100 + r}: distinct sets, one in the second word.
  const auto set_of = [](int r) { return CpuSet::of({r, 100 + r}); };
  const auto all = node_cpu_sets(MPI_COMM_WORLD, set_of(world_rank()));
  ASSERT_EQ(static_cast<int>(all.size()), world_size());
  for (int r = 0; r < world_size(); ++r) EXPECT_EQ(all[r].to_string(), set_of(r).to_string()) << "rank " << r;
  // Bound apart, each rank keeps its own two CPUs.
  EXPECT_EQ(threads_per_rank(set_of(world_rank()), all), 2);

  // Unbound: all ranks see the same CPUs and split them.
  const CpuSet shared = CpuSet::of({0, 1, 2, 3, 4, 5});
  EXPECT_EQ(threads_per_rank(shared, node_cpu_sets(MPI_COMM_WORLD, shared)), 6 / world_size());
}

}  // namespace
}  // namespace llamarec
