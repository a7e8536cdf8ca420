// Statistics of a preprocessed dataset, for `llamarec info dataset.h5` and metrics.json.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/sequence_dataset.h"

namespace llamarec {

// Order statistics of a list of counts; percentiles interpolate linearly (numpy's default).
struct CountSummary {
  int64_t min = 0;
  int64_t max = 0;
  double mean = 0;
  double median = 0;
  std::vector<std::pair<int, double>> percentiles;  // (p, value) for p in 10, 25, 75, 90, 95, 99
};

struct DatasetStats {
  int64_t users = 0;
  int64_t items = 0;
  int64_t interactions = 0;
  double density = 0;            // interactions / (users * items)
  CountSummary user_length;      // items per user
  CountSummary item_popularity;  // interactions per item
  int64_t users_with_eval = 0;   // users with >= 3 items (have val and test targets)
};

// Linear-interpolated percentile p (0..100) of sorted `values`.
double percentile(const std::vector<int64_t>& sorted, double p);
CountSummary summarize_counts(std::vector<int64_t> values);

DatasetStats compute_dataset_stats(const SequenceDataset& dataset);

// A human-readable report: counts, density, sequence lengths, item popularity and the file's
// provenance attributes.
std::string dataset_info(const std::string& path);

}  // namespace llamarec
