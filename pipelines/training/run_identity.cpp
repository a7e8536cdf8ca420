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
  static const std::map<std::string, std::string> kFingerprintOfPath = {{"data.dataset", "input.dataset"},
                                                                        {"ranker.model", "input.base_config"},
                                                                        {"ranker.tokenizer", "input.tokenizer"}};
  auto differing = differing_config_keys(recorded, now);
  differing.erase(std::remove_if(differing.begin(), differing.end(),
                                 [&](const std::string& key) {
                                   const auto it = kFingerprintOfPath.find(key);
                                   return it != kFingerprintOfPath.end() && recorded.count(it->second) &&
                                          now.count(it->second);
                                 }),
                  differing.end());
  return differing;
}

}  // namespace llamarec
