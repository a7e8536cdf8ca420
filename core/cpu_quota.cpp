#include "core/cpu_quota.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

namespace llamarec {
namespace {

namespace fs = std::filesystem;

constexpr double kNone = std::numeric_limits<double>::infinity();

// The whitespace-separated words of a small file; empty when it cannot be read.
std::vector<std::string> words_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// A positive number, or nothing (a malformed file counts as no quota rather than an error: the
// thread count only falls back to the affinity).
double positive(const std::string& text) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    return used == text.size() && v > 0 ? v : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

// cgroup v2: "max PERIOD" or "QUOTA PERIOD".
double v2_limit(const fs::path& dir) {
  const auto w = words_of(dir / "cpu.max");
  if (w.size() != 2 || w[0] == "max") return kNone;
  const double quota = positive(w[0]), period = positive(w[1]);
  return quota > 0 && period > 0 ? quota / period : kNone;
}

// cgroup v1: cpu.cfs_quota_us (-1 = none) over cpu.cfs_period_us.
double v1_limit(const fs::path& dir) {
  const auto quota = words_of(dir / "cpu.cfs_quota_us"), period = words_of(dir / "cpu.cfs_period_us");
  if (quota.size() != 1 || period.size() != 1) return kNone;
  const double q = positive(quota[0]), p = positive(period[0]);
  return q > 0 && p > 0 ? q / p : kNone;
}

// The tightest limit from `mount`/`path` up to `mount`; the mount alone when it does not show `path`.
template <class Limit>
double tightest(const fs::path& mount, const std::string& path, Limit limit) {
  fs::path relative = fs::path(path).relative_path();
  std::error_code ec;
  if (!fs::is_directory(mount / relative, ec)) relative.clear();
  double out = kNone;
  for (;;) {
    out = std::min(out, limit(mount / relative));
    if (relative.empty()) return out;
    relative = relative.parent_path();
  }
}

}  // namespace

int cgroup_cpu_limit(const std::string& proc_cgroup, const fs::path& root) {
  double limit = kNone;
  std::istringstream lines(proc_cgroup);
  for (std::string line; std::getline(lines, line);) {
    // "hierarchy-id:controller-list:path"
    const auto a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const auto controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (line.compare(0, a, "0") == 0 && controllers.empty()) {
      // v2: mounted at root, or at root/unified beside v1 controllers ("hybrid").
      for (const auto& mount : {root, root / "unified"}) limit = std::min(limit, tightest(mount, path, v2_limit));
      continue;
    }
    std::istringstream list(controllers);
    for (std::string c; std::getline(list, c, ',');) {
      if (c != "cpu") continue;
      // v1: mounted as root/<controller-list> (often with root/cpu a link to it).
      for (const auto& mount : {root / controllers, root / "cpu"})
        limit = std::min(limit, tightest(mount, path, v1_limit));
    }
  }
  if (limit == kNone) return 0;
  return std::max(1, static_cast<int>(std::floor(limit + 1e-9)));
}

int process_cpu_limit() {
  static const int limit = [] {
    std::ifstream in("/proc/self/cgroup");
    std::stringstream text;
    text << in.rdbuf();
    return cgroup_cpu_limit(text.str(), "/sys/fs/cgroup");
  }();
  return limit;
}

}  // namespace llamarec
