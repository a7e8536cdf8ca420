// The CPU time a container may use: a cgroup's CPU quota (docker --cpus, Kubernetes CPU limits,
// systemd CPUQuota), which is not an affinity. A container limited to 4 CPUs on a 64-core host
// sees all 64 in its affinity mask; running 64 threads there gets them throttled in turn, slower
// than 4. The thread defaults (cpu_affinity.h) take the smaller of the two.
#pragma once
#include <filesystem>
#include <string>

namespace llamarec {

// The CPUs that the quotas along the process's cgroup path allow (the tightest, rounded down, at
// least 1), read from cgroup v2 `cpu.max` ("max 100000" or "400000 100000") or v1
// `cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1: none); 0 when there is no quota or nothing to read.
// `proc_cgroup`: the text of /proc/self/cgroup; `root`: where the cgroup filesystems are mounted. A
// path that the mount does not show (a container without a cgroup namespace sees the host's path)
// falls back to the mount's own directory.
int cgroup_cpu_limit(const std::string& proc_cgroup, const std::filesystem::path& root);

// cgroup_cpu_limit of this process (/proc/self/cgroup, /sys/fs/cgroup), read once.
int process_cpu_limit();

}  // namespace llamarec
