// <eval.metrics>: one JSON object with an entry per stage ("retriever", "ranker", "timings", ...),
// merged into by each stage and rewritten atomically.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace llamarec {

// The file's object, or an empty object when the file does not exist. A file that is not a JSON
// object is an error naming it (it is never overwritten silently).
nlohmann::json read_metrics_file(const std::string& path);

// Sets `key` to `value` in the file (created if missing), atomically.
void update_metrics_file(const std::string& path, const std::string& key, const nlohmann::json& value);

}  // namespace llamarec
