#include "pipelines/metrics_file.h"

#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/json_value.h"

namespace llamarec {

nlohmann::json read_metrics_file(const std::string& path) {
  if (!std::filesystem::exists(path)) return nlohmann::json::object();
  std::ifstream in(path);
  if (!in) fail("{}: existing metrics file cannot be read; move it away first", path);
  const nlohmann::json root = parse_json(path + ": existing metrics file", "; move it away first", in);
  if (!root.is_object()) fail("{}: existing metrics file is not a JSON object; move it away first", path);
  return root;
}

void update_metrics_file(const std::string& path, const std::string& key, const nlohmann::json& value) {
  auto root = read_metrics_file(path);
  root[key] = value;
  write_file_atomic(path, root.dump(2) + "\n");
}

}  // namespace llamarec
