#include <gtest/gtest.h>
#include <sched.h>

#include <cstdlib>
#include <string>

#include "core/cpu_affinity.h"

namespace llamarec {
namespace {

TEST(CpuSet, CountsPrintsAndOverlaps) {
  const CpuSet set = CpuSet::of({0, 1, 2, 3, 8, 10, 11, 64, 1023, 1024, -1});
  EXPECT_EQ(set.count(), 9);  // 1024 and -1 are out of range
  EXPECT_EQ(set.to_string(), "0-3,8,10-11,64,1023");
  EXPECT_EQ(CpuSet().to_string(), "none");
  EXPECT_EQ(CpuSet::of({63, 64, 65}).to_string(), "63-65");  // a run across two words
  EXPECT_TRUE(set.overlaps(CpuSet::of({1023})));
  EXPECT_FALSE(set.overlaps(CpuSet::of({4, 5, 6, 7, 9})));
  EXPECT_FALSE(CpuSet().overlaps(CpuSet()));
}

std::vector<CpuSet> each_bound_to_one(int ranks) {
  std::vector<CpuSet> out;
  for (int r = 0; r < ranks; ++r) out.push_back(CpuSet::of({r}));
  return out;
}

CpuSet range(int begin, int end) {
  std::vector<int> cpus;
  for (int c = begin; c < end; ++c) cpus.push_back(c);
  return CpuSet::of(cpus);
}

TEST(CpuSet, ThreadsPerRankFollowTheBinding) {
  const CpuSet node = range(0, 64);
  // Unbound (mpirun --bind-to none, the launch scripts' default): the node's cores split evenly.
  EXPECT_EQ(threads_per_rank(node, {node}), 64);
  EXPECT_EQ(threads_per_rank(node, {node, node}), 32);
  EXPECT_EQ(threads_per_rank(node, std::vector<CpuSet>(3, node)), 21);
  // Bound to a core each (Open MPI's default at 2 ranks): one thread, not 32 on one core.
  const auto cores = each_bound_to_one(2);
  EXPECT_EQ(threads_per_rank(cores[0], cores), 1);
  // Bound to a socket each, four ranks a socket (Open MPI's default beyond 2 ranks).
  const CpuSet socket0 = range(0, 32), socket1 = range(32, 64);
  const std::vector<CpuSet> sockets = {socket0, socket0, socket0, socket0, socket1, socket1, socket1, socket1};
  EXPECT_EQ(threads_per_rank(socket1, sockets), 8);
  // A Slurm step's cpuset of 8 CPUs shared by its 2 tasks, on a 64-CPU host.
  EXPECT_EQ(threads_per_rank(range(8, 16), {range(8, 16), range(8, 16)}), 4);
  // More ranks than CPUs, or an empty exchange: still at least one.
  EXPECT_EQ(threads_per_rank(CpuSet::of({0}), std::vector<CpuSet>(4, CpuSet::of({0}))), 1);
  EXPECT_EQ(threads_per_rank(range(0, 4), {}), 4);
}

// Restores the affinity and OMP_NUM_THREADS a test changes.
class ProcessCpus : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sched_getaffinity(0, sizeof(saved_), &saved_), 0);
    if (const char* env = std::getenv("OMP_NUM_THREADS")) omp_ = env;
  }
  void TearDown() override {
    sched_setaffinity(0, sizeof(saved_), &saved_);
    if (omp_.empty()) {
      unsetenv("OMP_NUM_THREADS");
    } else {
      setenv("OMP_NUM_THREADS", omp_.c_str(), 1);
    }
  }
  cpu_set_t saved_;
  std::string omp_;
};

TEST_F(ProcessCpus, FollowTheAffinityMask) {
  const CpuSet all = CpuSet::of_process();
  ASSERT_EQ(all.count(), CPU_COUNT(&saved_));
  if (all.count() < 2) GTEST_SKIP() << "needs two usable CPUs to bind to one of them";
  // The highest usable CPU alone, as taskset -c or mpirun --bind-to core would leave it.
  int last = 0;
  for (int c = 0; c < CpuSet::kMaxCpus; ++c)
    if (CPU_ISSET(c, &saved_)) last = c;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(last, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  EXPECT_EQ(CpuSet::of_process().to_string(), std::to_string(last));

  unsetenv("OMP_NUM_THREADS");
  EXPECT_EQ(standalone_threads(), 1);
  setenv("OMP_NUM_THREADS", "3", 1);
  EXPECT_EQ(standalone_threads(), 3);
  setenv("OMP_NUM_THREADS", "zero", 1);
  EXPECT_EQ(standalone_threads(), 1);
}

}  // namespace
}  // namespace llamarec
