// The CPUs this process may run on: its affinity mask, which taskset, `mpirun --bind-to` and Slurm's
// task binding set. The thread defaults size from it, not from the host's core count: two ranks that
// mpirun bound to one core each on a 64-core node would otherwise start 32 threads on that core.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace llamarec {

// A set of CPU ids below kMaxCpus, as a fixed-size bitmask so that ranks can exchange it as words.
class CpuSet {
 public:
  static constexpr int kMaxCpus = 1024;  // glibc's CPU_SETSIZE
  static constexpr int kWords = kMaxCpus / 64;

  CpuSet() = default;
  // Ids outside [0, kMaxCpus) are ignored.
  static CpuSet of(const std::vector<int>& cpus);
  // sched_getaffinity; where that fails (more CPUs than kMaxCpus), CPUs 0..hardware_concurrency-1.
  static CpuSet of_process();

  int count() const;
  bool overlaps(const CpuSet& other) const;
  // "0-3,8,10-11", or "none".
  std::string to_string() const;

  std::array<uint64_t, kWords>& words() { return words_; }
  const std::array<uint64_t, kWords>& words() const { return words_; }

 private:
  std::array<uint64_t, kWords> words_{};
};

// The threads each rank should run by default: its CPUs shared out among the ranks of its node whose
// CPUs overlap them (`node` holds every local rank's set, this one's included). Unbound ranks all see
// the whole node and split it; ranks bound to their own cores keep them; never below 1. A
// `cpu_limit` > 0 (the container's CPU quota, cpu_quota.h) is shared by all the node's ranks, which
// a container holds together, and caps that.
int threads_per_rank(const CpuSet& mine, const std::vector<CpuSet>& node, int cpu_limit = 0);

// A single-process program's threads: OMP_NUM_THREADS where it is a positive number, else its CPUs
// (no more than its CPU quota allows).
int standalone_threads();

}  // namespace llamarec
