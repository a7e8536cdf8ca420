#include "pipelines/input_files.h"

#include <chrono>
#include <filesystem>

#include "core/content_hash.h"
#include "core/safetensors.h"

namespace fs = std::filesystem;

namespace llamarec {

std::vector<InputFile> ranker_base_files(const Config& config) {
  const auto base = config.ranker.model.empty() ? config.in_run_dir(config.builtin_llama.dir) : config.ranker.model;
  std::vector<InputFile> out{{"base_config", (fs::path(base) / "config.json").string()}};
  try {
    for (const auto& file : SafetensorsCheckpoint(base).files())
      out.push_back({"base_weights/" + fs::path(file).filename().string(), file});
  } catch (const std::exception&) {
    out.push_back({"base_weights", (fs::path(base) / "model.safetensors").string()});
  }
  out.push_back({"tokenizer", config.ranker.tokenizer.empty() ? (fs::path(base) / "tokenizer.model").string()
                                                              : config.ranker.tokenizer});
  return out;
}

nlohmann::json describe_input_file(const std::string& path, uintmax_t whole_digest_limit) {
  std::error_code ec;
  if (path.empty() || !fs::is_regular_file(path, ec)) return nullptr;
  const auto size = fs::file_size(path);
  if (size <= whole_digest_limit) return {{"bytes", size}, {"fnv1a64", file_digest(path)}};
  const auto mtime = fs::last_write_time(path).time_since_epoch();
  return {{"bytes", size},
          {"sampled_fnv1a64", file_sample_digest(path)},
          {"mtime_ns", std::chrono::duration_cast<std::chrono::nanoseconds>(mtime).count()}};
}

bool same_input(const nlohmann::json& recorded, const nlohmann::json& now) {
  if (!recorded.is_object() || !now.is_object()) return recorded == now;
  const auto both = [&](const char* field) { return recorded.contains(field) && now.contains(field); };
  if (!both("bytes") || recorded["bytes"] != now["bytes"]) return false;
  bool compared = false;
  for (const char* field : {"fnv1a64", "sampled_fnv1a64", "mtime_ns"}) {
    if (!both(field)) continue;
    if (std::string(field) == "mtime_ns" && both("sampled_fnv1a64")) continue;
    if (recorded[field] != now[field]) return false;
    compared = true;
  }
  return compared;
}

}  // namespace llamarec
