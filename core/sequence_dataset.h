// The preprocessed dataset (dataset.h5): per-user chronological item sequences plus item titles,
// read whole (tools) or as one rank's shard (training, retrieval, evaluation).
//
// Schema (version 1):
//   /items/title     [I+1] variable-length UTF-8 strings; index = item id, 0 = padding ("")
//   /items/raw_id    [I+1] the item's id in the raw data (index 0 = "")
//   /users/offsets   [U+1] int64, CSR: user u (0-based) owns /users/items[offsets[u], offsets[u+1])
//   /users/items     [N]   int32 item ids 1..I, chronological per user
//   /users/raw_id    [U]   the user's id in the raw data
//   /users/timestamps[N]   int64, optional, parallel to /users/items
//   root attributes: schema_version=1, created_by="llamarec", num_users, num_items, num_interactions,
//                    plus provenance (source_format, input_path, filters, ...) written by preprocess.
//
// Leave-one-out split (derived, never stored): the last item is the test target, the second last the
// validation target, the rest is training. Users with fewer than 3 items are train-only.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/hdf5_file.h"

namespace llamarec {

inline constexpr int64_t kSequenceSchemaVersion = 1;

// A read-only view of consecutive item ids (C++17 has no std::span).
struct ItemSpan {
  const int32_t* data = nullptr;
  int64_t size = 0;
  const int32_t* begin() const { return data; }
  const int32_t* end() const { return data + size; }
  int32_t operator[](int64_t i) const { return data[i]; }
  bool empty() const { return size == 0; }
  std::vector<int32_t> to_vector() const { return {begin(), end()}; }
};

enum class Split { kVal, kTest };

// The input and target of one leave-one-out evaluation example.
struct EvalExample {
  ItemSpan history;  // val: items[:-2]; test: items[:-1] (includes the val item, as LlamaRec)
  int32_t target = 0;
};

// Contiguous user ranges, one per rank: rank r owns users [bounds[r], bounds[r+1]). Boundaries sit
// where the cumulative interaction count is closest to r/N of the total (so every shard holds about
// total/N interactions, within one user's length), then are clamped so that every rank gets at least
// one user. Needs only /users/offsets. Errors, naming `path`, when there are fewer users than ranks.
std::vector<int64_t> plan_user_shards(const std::vector<int64_t>& offsets, int world_size, const std::string& path);

class SequenceDataset {
 public:
  // Every user (tools, `llamarec info`).
  static SequenceDataset open(const std::string& path);
  // Only rank `rank`'s user range of `world_size` (see plan_user_shards), read through hyperslabs
  // of /users/offsets and /users/items; titles and item raw ids are read whole.
  static SequenceDataset open_shard(const std::string& path, int rank, int world_size);

  const std::string& path() const { return path_; }
  int64_t num_users() const { return num_users_; }                // global
  int64_t num_items() const { return num_items_; }                // item ids are 1..num_items
  int64_t num_interactions() const { return num_interactions_; }  // global

  // This shard: global users [user_begin, user_end); local user i is global user user_begin + i.
  int64_t user_begin() const { return user_begin_; }
  int64_t user_end() const { return user_begin_ + num_local_users(); }
  int64_t num_local_users() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  int64_t num_local_interactions() const { return static_cast<int64_t>(items_.size()); }
  int64_t global_user(int64_t local) const { return user_begin_ + local; }

  // Chronological items of a local user, and the leave-one-out views of them.
  ItemSpan items(int64_t local) const;
  ItemSpan train_items(int64_t local) const;  // items[:-2], or all items when the user has fewer than 3
  bool has_eval(int64_t local) const { return items(local).size >= 3; }
  EvalExample example(int64_t local, Split split) const;

  // Timestamps parallel to items(local); empty when the file has none.
  bool has_timestamps() const { return has_timestamps_; }
  std::vector<int64_t> timestamps(int64_t local) const;

  const std::string& user_raw_id(int64_t local) const;
  const std::string& title(int64_t item) const;
  const std::string& item_raw_id(int64_t item) const;
  const std::vector<std::string>& titles() const { return titles_; }  // [I+1], 0 = ""

  // Root attributes: provenance, filters and counts.
  const H5Attributes& attributes() const { return attributes_; }

 private:
  static SequenceDataset load(const std::string& path, int rank, int world_size);
  void check_local(int64_t local) const;

  std::string path_;
  int64_t num_users_ = 0;
  int64_t num_items_ = 0;
  int64_t num_interactions_ = 0;
  int64_t user_begin_ = 0;
  std::vector<int64_t> offsets_;  // [L+1], rebased to this shard's first interaction
  std::vector<int32_t> items_;
  bool has_timestamps_ = false;
  std::vector<int64_t> timestamps_;
  std::vector<std::string> user_raw_ids_;
  std::vector<std::string> titles_;
  std::vector<std::string> item_raw_ids_;
  H5Attributes attributes_;
};

}  // namespace llamarec
