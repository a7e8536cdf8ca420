// The CPU quota of a container (core/cpu_quota.h) on made-up cgroup trees of both versions, and
// the thread defaults it caps (core/cpu_affinity.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/cpu_affinity.h"
#include "core/cpu_quota.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

namespace fs = std::filesystem;
using ::llamarec::testing::TempDir;
using ::llamarec::testing::write_text;

TEST(CpuQuota, CgroupV2TakesTheTightestQuotaAlongThePath) {
  TempDir tmp;
  const auto root = tmp / "cgroup";
  write_text(root / "kubepods" / "pod1" / "ctr" / "cpu.max", "max 100000\n");
  write_text(root / "kubepods" / "pod1" / "cpu.max", "250000 100000\n");  // 2.5 CPUs: 2 threads
  write_text(root / "kubepods" / "cpu.max", "800000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit("0::/kubepods/pod1/ctr\n", root), 2);
  // Less than one CPU still runs one thread; no quota anywhere is 0.
  write_text(root / "kubepods" / "pod1" / "cpu.max", "50000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit("0::/kubepods/pod1/ctr\n", root), 1);
  write_text(root / "kubepods" / "pod1" / "cpu.max", "max 100000\n");
  write_text(root / "kubepods" / "cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_limit("0::/kubepods/pod1/ctr\n", root), 0);
  // Inside a cgroup namespace the path is "/": the mount's own directory is the container's.
  write_text(root / "cpu.max", "400000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit("0::/\n", root), 4);
  // A path the mount does not show (no namespace: the host's path) falls back to the mount.
  EXPECT_EQ(cgroup_cpu_limit("0::/system.slice/docker-abc.scope\n", root), 4);
  // Malformed files and lines are no quota, not an error.
  write_text(root / "cpu.max", "lots\n");
  EXPECT_EQ(cgroup_cpu_limit("0::/\ngarbage\n\n", root), 0);
  EXPECT_EQ(cgroup_cpu_limit("", tmp / "absent"), 0);
}

TEST(CpuQuota, CgroupV1ReadsTheCfsQuotaOfTheCpuController) {
  TempDir tmp;
  const auto root = tmp / "cgroup";
  const auto cpu = root / "cpu,cpuacct";
  write_text(cpu / "docker" / "abc" / "cpu.cfs_quota_us", "400000\n");
  write_text(cpu / "docker" / "abc" / "cpu.cfs_period_us", "100000\n");
  const std::string proc = "12:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n";
  EXPECT_EQ(cgroup_cpu_limit(proc, root), 4);
  write_text(cpu / "docker" / "abc" / "cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(cgroup_cpu_limit(proc, root), 0);
  // Only the cpu controller counts: cpuacct alone (as on a host with split hierarchies) has no quota.
  write_text(root / "cpuacct" / "cpu.cfs_quota_us", "100000\n");
  write_text(root / "cpuacct" / "cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_limit("2:cpuacct:/\n", root), 0);
  // A hybrid host: v1 controllers beside v2 at root/unified.
  write_text(root / "unified" / "job" / "cpu.max", "300000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(proc + "0::/job\n", root), 3);
}

TEST(CpuQuota, CapsTheThreadsOfTheNodesRanksTogether) {
  std::vector<int> all(64);
  for (int i = 0; i < 64; ++i) all[static_cast<size_t>(i)] = i;
  const auto node = CpuSet::of(all);
  EXPECT_EQ(threads_per_rank(node, {node}, 0), 64);
  EXPECT_EQ(threads_per_rank(node, {node}, 4), 4);
  EXPECT_EQ(threads_per_rank(node, {node, node}, 4), 2);                         // the quota is the container's, shared
  EXPECT_EQ(threads_per_rank(node, std::vector<CpuSet>(8, node), 4), 1);         // never below 1
  EXPECT_EQ(threads_per_rank(CpuSet::of({0, 1}), {CpuSet::of({0, 1})}, 16), 2);  // the affinity is tighter
}

}  // namespace
}  // namespace llamarec
