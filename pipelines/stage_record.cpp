#include "pipelines/stage_record.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "pipelines/config_diff.h"

namespace llamarec {
namespace {

// Keys that change speed, memory or logging but not a stage's results.
bool operational(const std::string& key) {
  static const char* const kKeys[] = {
      "retriever.eval_batch_size",
      "retriever.checkpoint_interval",
      "retriever.max_bad_steps",
      "ranker.eval_batch_size",
      "ranker.checkpoint_interval",
      "ranker.max_bad_steps",
      "eval.scalars",
  };
  for (const char* k : kKeys) {
    if (key == k) return true;
  }
  return false;
}

// How specifically `pattern` names `key`: 0 = not at all, else the pattern's length.
size_t match(const std::string& key, const std::string& pattern) {
  const bool hit = pattern.back() == '.' ? key.compare(0, pattern.size(), pattern) == 0 : key == pattern;
  return hit ? pattern.size() : 0;
}

}  // namespace

ConfigValues stage_config_values(const Config& config, const std::string& stage) {
  // A key belongs to the stage that names it most specifically ("ranker.permutations" to
  // evaluate-ranker, the rest of "ranker." to train-ranker); `stage` depends on its own keys and on
  // those of every stage before it.
  const auto& stages = pipeline_stages();
  size_t last = 0;
  while (last < stages.size() && stages[last].name != stage) ++last;
  ConfigValues out;
  for (auto& [key, value] : config_values(config)) {
    size_t owner = stages.size(), best = 0;
    for (size_t s = 0; s < stages.size(); ++s) {
      for (const auto& pattern : stages[s].config_keys) {
        if (match(key, pattern) > best) {
          best = match(key, pattern);
          owner = s;
        }
      }
    }
    if (owner <= last && !operational(key)) out.emplace(key, std::move(value));
  }
  return out;
}

void write_stage_record(const std::string& path, double seconds, const ConfigValues& values) {
  const nlohmann::json record = {{"seconds", seconds}, {"config", values}};
  write_file_atomic(path, record.dump(2) + "\n");
}

std::string stage_record_mismatch(const std::string& path, const std::string& stage, const ConfigValues& values) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string contents = text.str();
  if (contents.empty() || contents.front() != '{') {
    // Written before records held the config ("12.345 s"): nothing to compare.
    spdlog::warn("{}: records no config (an older llamarec wrote it); {} is skipped unchecked", path, stage);
    return "";
  }
  const auto record = nlohmann::json::parse(contents, nullptr, /*allow_exceptions=*/false);
  if (record.is_discarded() || !record.is_object() || !record.contains("config") || !record["config"].is_object())
    return fmt::format("{}: damaged stage record (not the JSON llamarec writes); delete it to run {} again", path,
                       stage);
  ConfigValues recorded;
  for (const auto& [key, value] : record["config"].items()) {
    if (value.is_string()) recorded[key] = value.get<std::string>();
  }
  const auto differing = differing_config_keys(recorded, values);
  if (differing.empty()) return "";
  return fmt::format(
      "{}: stage {} was done in this run directory with another config: {}. Use another run.dir, or delete {} to "
      "run {} and the stages after it again with this config",
      path, stage, describe_config_difference(differing, recorded, values), path, stage);
}

}  // namespace llamarec
