#include "pipelines/config_diff.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace llamarec {
namespace {

std::string value_or_absent(const ConfigValues& values, const std::string& key) {
  const auto it = values.find(key);
  return it == values.end() ? std::string("(absent)") : it->second;
}

// What a record without `key` was made with: the key's default, except for keys added with a
// default other than the behaviour before them.
ConfigValues values_before_added() {
  Config before;
  before.ranker.val_order = CandidateOrderChoice::kRetriever;  // validation was in retriever order before d2ad206
  return config_values(before);
}

}  // namespace

std::vector<std::string> differing_config_keys(const ConfigValues& recorded, const ConfigValues& now) {
  static const ConfigValues before_added = values_before_added();
  std::vector<std::string> differing;
  for (const auto& [key, value] : now) {
    const auto it = recorded.find(key);
    if (it != recorded.end()) {
      if (it->second != value) differing.push_back(key);
      continue;
    }
    if (key.rfind(kInputKeyPrefix, 0) == 0) continue;
    const auto b = before_added.find(key);
    if (b == before_added.end() || b->second != value) differing.push_back(key);
  }
  for (const auto& [key, value] : recorded) {
    if (now.count(key) == 0) differing.push_back(key);
  }
  std::sort(differing.begin(), differing.end());
  return differing;
}

std::string describe_config_difference(const std::vector<std::string>& keys, const ConfigValues& recorded,
                                       const ConfigValues& now) {
  const auto& key = keys.front();
  std::string more;
  if (keys.size() > 1) {
    const std::vector<std::string> rest(keys.begin() + 1, keys.begin() + std::min<size_t>(keys.size(), 6));
    more = fmt::format(" (and {} more: {}{})", keys.size() - 1, fmt::join(rest, ", "), keys.size() > 6 ? ", ..." : "");
  }
  return fmt::format("{} = {} there, {} now{}", key, value_or_absent(recorded, key), value_or_absent(now, key), more);
}

}  // namespace llamarec
