#include "pipelines/metrics_file.h"

#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace llamarec {

nlohmann::json read_metrics_file(const std::string& path) {
  if (!std::filesystem::exists(path)) return nlohmann::json::object();
  nlohmann::json root;
  try {
    std::ifstream in(path);
    if (!in) fail("{}: existing metrics file cannot be read; move it away first", path);
    root = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: existing metrics file is not valid JSON (damaged near byte {}); move it away first", path, e.byte);
  }
  if (!root.is_object()) fail("{}: existing metrics file is not a JSON object; move it away first", path);
  return root;
}

void update_metrics_file(const std::string& path, const std::string& key, const nlohmann::json& value) {
  auto root = read_metrics_file(path);
  root[key] = value;
  write_file_atomic(path, root.dump(2) + "\n");
}

}  // namespace llamarec
