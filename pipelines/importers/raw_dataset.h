// What every importer produces: raw interactions in file order plus item titles, before any
// filtering or id remapping (pipelines/preprocess_filter.h does those).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llamarec {

// Raw ids (text) interned to dense indices in order of first appearance.
class IdTable {
 public:
  int32_t intern(std::string_view id);
  const std::string& name(int32_t index) const { return names_[index]; }
  int32_t size() const { return static_cast<int32_t>(names_.size()); }

 private:
  std::unordered_map<std::string, int32_t> index_;
  std::vector<std::string> names_;
};

struct RawInteraction {
  int32_t user = 0;      // index into RawDataset::users
  int32_t item = 0;      // index into RawDataset::items
  float rating = 0;      // 0 when the source has no ratings
  double timestamp = 0;  // 0 when the source has none (then file order is time order)
};

struct RawDataset {
  std::string format;              // the detected flavour, e.g. "movielens-1m", "amazon-2014", "recbole"
  std::vector<std::string> files;  // what was read, for provenance
  IdTable users;
  IdTable items;
  std::vector<RawInteraction> interactions;             // file order: the index is the tie-break after timestamp
  std::unordered_map<std::string, std::string> titles;  // raw item id -> UTF-8 title
  bool has_ratings = false;
  bool has_timestamps = false;

  void add(std::string_view user, std::string_view item, float rating, double timestamp) {
    interactions.push_back({users.intern(user), items.intern(item), rating, timestamp});
  }
};

}  // namespace llamarec
