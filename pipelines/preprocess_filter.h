// LlamaRec's preprocessing after import (docs/llamarec.md, "Data"): drop items without a non-empty title, drop
// ratings below min_rating (0 keeps all), iterative k-core, deterministic dense ids, chronological
// per-user sequences.
//
// Id rule (LlamaRec numbers ids in Python set() order, which for string ids depends on
// PYTHONHASHSEED): users get 0.. and items 1.. in ascending raw-id order, compared as integers
// when every raw id of that kind is an integer, else byte-wise. Item 0 is padding.
// Order rule: each user's interactions sorted by timestamp, ties kept in file order (a stable
// sort). LlamaRec breaks timestamp ties by the new dense item id instead.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/sequence_dataset_writer.h"
#include "pipelines/importers/raw_dataset.h"

namespace llamarec {

struct FilterOptions {
  int64_t min_user_count = 5;
  int64_t min_item_count = 5;
  double min_rating = 0.0;  // 0 keeps every interaction
};

struct DatasetCounts {
  int64_t users = 0;
  int64_t items = 0;
  int64_t interactions = 0;
};

struct FilterReport {
  DatasetCounts raw;
  DatasetCounts titled;  // after dropping items without a title
  DatasetCounts rated;   // after min_rating
  DatasetCounts kcore;   // final
  int kcore_rounds = 0;  // item+user passes that removed something
};

// Iterative k-core on the interactions marked in `keep` (updated in place): drop interactions of
// items with fewer than min_item_count kept interactions, then of users with fewer than
// min_user_count, and repeat until nothing changes. Returns the number of rounds that removed
// something.
int iterative_kcore(const std::vector<RawInteraction>& interactions, int32_t num_users, int32_t num_items,
                    int64_t min_user_count, int64_t min_item_count, std::vector<char>& keep);

// Indices of `ids`, sorted by the id rule above.
std::vector<int32_t> order_by_raw_id(const IdTable& ids, std::vector<int32_t> indices);

// Filters, remaps and sorts `raw` into the dataset. Errors, naming `source`, when nothing is left.
SequenceData build_sequence_data(const RawDataset& raw, const FilterOptions& options, const std::string& source,
                                 FilterReport* report = nullptr);

}  // namespace llamarec
