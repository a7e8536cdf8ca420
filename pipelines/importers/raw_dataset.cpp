#include "pipelines/importers/raw_dataset.h"

#include <limits>

#include "core/error.h"

namespace llamarec {

int32_t IdTable::intern(std::string_view id) {
  auto [it, inserted] = index_.try_emplace(std::string(id), static_cast<int32_t>(names_.size()));
  if (inserted) {
    if (names_.size() >= static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
      fail("more than {} distinct ids", std::numeric_limits<int32_t>::max());
    }
    names_.push_back(it->first);
  }
  return it->second;
}

}  // namespace llamarec
