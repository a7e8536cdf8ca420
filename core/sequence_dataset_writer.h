// Writing dataset.h5 (schema in core/sequence_dataset.h), atomically.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/hdf5_file.h"

namespace llamarec {

// The whole dataset in memory, as preprocessing builds it.
struct SequenceData {
  std::vector<std::string> item_titles;   // [I+1], index = item id, 0 = ""
  std::vector<std::string> item_raw_ids;  // [I+1], 0 = ""
  std::vector<std::string> user_raw_ids;  // [U]
  std::vector<int64_t> offsets;           // [U+1], CSR into items
  std::vector<int32_t> items;             // [N], ids 1..I, chronological per user
  std::vector<int64_t> timestamps;        // [N], or empty when the source has none

  int64_t num_users() const { return static_cast<int64_t>(user_raw_ids.size()); }
  int64_t num_items() const { return static_cast<int64_t>(item_titles.size()) - 1; }
  int64_t num_interactions() const { return static_cast<int64_t>(items.size()); }
};

// Writes `data` to `path` with the root attributes `provenance` plus schema_version, created_by and
// the counts. Atomic: writes `path`.tmp and renames it over `path`; on any error the temp file is
// removed and an existing `path` is left untouched (core/atomic_file.h). Creates missing parent
// directories.
void write_sequence_dataset(const std::string& path, const SequenceData& data, const H5Attributes& provenance);

}  // namespace llamarec
