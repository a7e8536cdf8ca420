#include "pipelines/training/run_identity.h"

#include <algorithm>

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

}  // namespace llamarec
