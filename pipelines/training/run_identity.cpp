#include "pipelines/training/run_identity.h"

#include <algorithm>
#include <map>

#include "pipelines/config_diff.h"

namespace llamarec {

ConfigValues training_identity(const Config& config, const std::vector<std::string>& sections,
                               const std::vector<std::string>& resumable, const std::vector<InputFile>& inputs) {
  Config resolved = config;
  resolved.data.dataset = config.in_run_dir(config.data.dataset);
  const auto in = [](const std::vector<std::string>& keys, const std::string& key) {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  };
  ConfigValues out;
  for (auto& [key, value] : config_values(resolved)) {
    const bool in_section = std::any_of(sections.begin(), sections.end(), [&, &key = key](const std::string& s) {
      return key.compare(0, s.size(), s) == 0;
    });
    if ((key == "run.seed" || key == "data.dataset" || in_section) && !in(resumable, key))
      out.emplace(key, std::move(value));
  }
  for (const auto& input : inputs)
    out.emplace(std::string(kInputKeyPrefix) + input.name, describe_input_file(input.path).dump());
  return out;
}

std::vector<std::string> identity_differences(const ConfigValues& recorded, const ConfigValues& now) {
  // Each path key and the fingerprints (key prefixes) that stand for its content: all of them must
  // be in both identities. The base is its config and its weights: a state recorded before the
  // weights were fingerprinted compares ranker.model by path, since fine-tunes of one base share
  // their config and tokenizer.
  static const std::map<std::string, std::vector<std::string>> kFingerprintsOfPath = {
      {"data.dataset", {"input.dataset"}},
      {"ranker.model", {"input.base_config", "input.base_weights"}},
      {"ranker.tokenizer", {"input.tokenizer"}}};
  const auto holds = [](const ConfigValues& values, const std::string& prefix) {
    const auto it = values.lower_bound(prefix);
    return it != values.end() && it->first.compare(0, prefix.size(), prefix) == 0;
  };
  auto differing = differing_config_keys(recorded, now);
  differing.erase(std::remove_if(differing.begin(), differing.end(),
                                 [&](const std::string& key) {
                                   if (key.rfind(kInputKeyPrefix, 0) == 0 && recorded.count(key) && now.count(key))
                                     return same_input(nlohmann::json::parse(recorded.at(key), nullptr, false),
                                                       nlohmann::json::parse(now.at(key), nullptr, false));
                                   const auto it = kFingerprintsOfPath.find(key);
                                   return it != kFingerprintsOfPath.end() &&
                                          std::all_of(it->second.begin(), it->second.end(), [&](const std::string& p) {
                                            return holds(recorded, p) && holds(now, p);
                                          });
                                 }),
                  differing.end());
  return differing;
}

}  // namespace llamarec
