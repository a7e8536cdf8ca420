#include "benchmarks/support/results_file.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/cpu_affinity.h"
#include "pipelines/run_manifest.h"

namespace llamarec {

nlohmann::json read_results(const std::string& path, const std::string& name) {
  nlohmann::json all = {{"benchmark", name}, {"runs", nlohmann::json::array()}};
  if (!std::filesystem::exists(path)) return all;
  std::ifstream in(path);
  try {
    all = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    fmt::print(stderr, "{}: not valid JSON, starting a new results file\n", path);
  }
  return all;
}

std::string machine_description() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model;
  int cpus = 0;
  while (std::getline(in, line)) {
    if (line.rfind("processor", 0) == 0) ++cpus;
    if (model.empty() && line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      const auto start = colon == std::string::npos ? colon : line.find_first_not_of(" \t", colon + 1);
      if (start != std::string::npos) model = line.substr(start);
    }
  }
  if (model.empty()) return "unknown";
  // A bound process (taskset, Slurm, mpirun --bind-to) measures on fewer CPUs than the host has.
  const int usable = CpuSet::of_process().count();
  return usable < cpus ? fmt::format("{} x {} ({} usable)", model, cpus, usable) : fmt::format("{} x {}", model, cpus);
}

void replace_row(nlohmann::json& rows, const nlohmann::json& row, const std::vector<std::string>& keys) {
  if (!rows.is_array()) rows = nlohmann::json::array();
  for (auto it = rows.begin(); it != rows.end();) {
    bool same = true;
    for (const auto& key : keys) same = same && it->value(key, nlohmann::json()) == row.value(key, nlohmann::json());
    it = same ? rows.erase(it) : it + 1;
  }
  auto measured = row;
  if (!measured.contains("machine")) measured["machine"] = machine_description();
  if (!measured.contains("commit")) measured["commit"] = build_commit();
  if (!measured.contains("date")) measured["date"] = fmt::format("{:%Y-%m-%d}", fmt::gmtime(std::time(nullptr)));
  rows.push_back(measured);
}

void write_results(const std::string& path, const nlohmann::json& results) {
  write_file_atomic(path, results.dump(2) + "\n");
  fmt::print("wrote {}\n", path);
}

nlohmann::json print_step_profile(const StepProfile& profile, int world_size, double seconds_per_step) {
  const auto ms = profile.milliseconds_per_step();
  double total = 0;
  for (const auto& [category, value] : ms) total += value;
  const bool ops = profile.mode() == StepProfile::Mode::kOps;
  fmt::print(
      "\nWhere one step goes, rank 0 of {} ({} steps, profiling {}: {:.1f} ms per step in the categories, {:.1f} ms "
      "step time with the profiler on; compare with an unprofiled run):\n",
      world_size, profile.steps(), ops ? "every op" : "the scopes only", total, seconds_per_step * 1000);
  std::vector<std::pair<double, std::string>> sorted;
  for (const auto& [category, value] : ms) sorted.emplace_back(value, category);
  std::sort(sorted.rbegin(), sorted.rend());
  for (const auto& [value, category] : sorted)
    fmt::print("  {:<40} {:>9.2f} ms {:>6.1f} %\n", category, value, total > 0 ? 100.0 * value / total : 0.0);
  if (ops) {
    fmt::print("largest ops (self time):\n");
    for (const auto& [op, value] : profile.top_ops(25)) fmt::print("  {:<76} {:>9.2f} ms\n", op, value);
  }
  return {{"profile", ops ? "ops" : "scopes"},
          {"steps", profile.steps()},
          {"profiled_ms_per_step", total},
          {"ms_per_step", ms}};
}

}  // namespace llamarec
