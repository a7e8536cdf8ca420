#include "core/cpu_affinity.h"

#include <sched.h>

#include <algorithm>
#include <bitset>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "core/cpu_quota.h"

namespace llamarec {

CpuSet CpuSet::of(const std::vector<int>& cpus) {
  CpuSet set;
  for (const int cpu : cpus)
    if (cpu >= 0 && cpu < kMaxCpus) set.words_[cpu / 64] |= uint64_t{1} << (cpu % 64);
  return set;
}

CpuSet CpuSet::of_process() {
  static_assert(CPU_SETSIZE == kMaxCpus, "CpuSet mirrors cpu_set_t");
  cpu_set_t mask;
  CPU_ZERO(&mask);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
    for (int cpu = 0; cpu < kMaxCpus; ++cpu)
      if (CPU_ISSET(cpu, &mask)) cpus.push_back(cpu);
  }
  if (cpus.empty()) {
    const int n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int cpu = 0; cpu < n; ++cpu) cpus.push_back(cpu);
  }
  return of(cpus);
}

int CpuSet::count() const {
  int n = 0;
  for (const uint64_t w : words_) n += static_cast<int>(std::bitset<64>(w).count());
  return n;
}

bool CpuSet::overlaps(const CpuSet& other) const {
  for (int i = 0; i < kWords; ++i)
    if (words_[i] & other.words_[i]) return true;
  return false;
}

std::string CpuSet::to_string() const {
  const auto has = [&](int cpu) { return cpu < kMaxCpus && ((words_[cpu / 64] >> (cpu % 64)) & 1); };
  std::string out;
  for (int cpu = 0; cpu < kMaxCpus; ++cpu) {
    if (!has(cpu)) continue;
    int last = cpu;
    while (has(last + 1)) ++last;
    if (!out.empty()) out += ',';
    out += last == cpu ? fmt::format("{}", cpu) : fmt::format("{}-{}", cpu, last);
    cpu = last;
  }
  return out.empty() ? "none" : out;
}

int threads_per_rank(const CpuSet& mine, const std::vector<CpuSet>& node, int cpu_limit) {
  const auto sharers = std::count_if(node.begin(), node.end(), [&](const CpuSet& s) { return s.overlaps(mine); });
  const int by_affinity = std::max(1, mine.count() / static_cast<int>(std::max<std::ptrdiff_t>(1, sharers)));
  if (cpu_limit <= 0) return by_affinity;
  return std::min(by_affinity, std::max(1, cpu_limit / static_cast<int>(std::max<size_t>(1, node.size()))));
}

int standalone_threads() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  const int n = env ? std::atoi(env) : 0;
  if (n > 0) return n;
  const int cpus = CpuSet::of_process().count(), limit = process_cpu_limit();
  return limit > 0 ? std::min(cpus, limit) : cpus;
}

}  // namespace llamarec
