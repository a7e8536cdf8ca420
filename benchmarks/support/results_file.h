// What the benchmarks share about their JSON results (benchmarks/results/*.json): read the file (a
// fresh document when it is missing or damaged, so that a benchmark never fails on its own output),
// keep one row per configuration, and write it back atomically.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "benchmarks/support/step_profile.h"

namespace llamarec {

// The results in `path`, or {"benchmark": name, "runs": []}.
nlohmann::json read_results(const std::string& path, const std::string& name);
// Replaces the row of `rows` (an array; created when null) that equals `row` on every key of
// `keys`, or appends it. The row gets where it was measured: "machine" (CPU model and count),
// "commit" (of the binary) and "date" (UTC), unless it has them.
void replace_row(nlohmann::json& rows, const nlohmann::json& row, const std::vector<std::string>& keys);

// "<CPU model name> x <logical CPUs>" from /proc/cpuinfo, with " (N usable)" where this process may
// run on fewer of them (its affinity), or "unknown".
std::string machine_description();
void write_results(const std::string& path, const nlohmann::json& results);

// Prints where one step goes (categories by time, then the largest ops) and returns
// {"profile": "ops" | "scopes", "steps", "profiled_ms_per_step", "ms_per_step": {category: ms}}.
// `seconds_per_step`: the step time of the same run, profiler on.
nlohmann::json print_step_profile(const StepProfile& profile, int world_size, double seconds_per_step);

}  // namespace llamarec
