// The results of a run as a person reads them at the end of `llamarec run` and in `llamarec info
// RUN_DIR`: one table from metrics.json, with the retriever and the ranker on the same users and
// what a random order of the candidates would score beside them, then the stage wall times.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace llamarec {

// The table for a metrics.json object (read_metrics_file); rows whose stage has not run are left
// out, and an object with no results at all gives a one-line note.
std::string format_results_table(const nlohmann::json& metrics);

}  // namespace llamarec
