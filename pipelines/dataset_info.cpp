#include "pipelines/dataset_info.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace llamarec {

double percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double position = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t below = static_cast<size_t>(position);
  const size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return static_cast<double>(sorted[below]) + fraction * static_cast<double>(sorted[above] - sorted[below]);
}

CountSummary summarize_counts(std::vector<int64_t> values) {
  CountSummary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.min = values.front();
  s.max = values.back();
  s.mean = static_cast<double>(std::accumulate(values.begin(), values.end(), int64_t{0})) /
           static_cast<double>(values.size());
  s.median = percentile(values, 50);
  for (int p : {10, 25, 75, 90, 95, 99}) s.percentiles.emplace_back(p, percentile(values, p));
  return s;
}

DatasetStats compute_dataset_stats(const SequenceDataset& dataset) {
  DatasetStats st;
  st.users = dataset.num_users();
  st.items = dataset.num_items();
  st.interactions = dataset.num_interactions();
  st.density = st.users && st.items ? static_cast<double>(st.interactions) /
                                          (static_cast<double>(st.users) * static_cast<double>(st.items))
                                    : 0.0;
  std::vector<int64_t> lengths, popularity(static_cast<size_t>(st.items) + 1, 0);
  for (int64_t u = 0; u < dataset.num_local_users(); ++u) {
    const ItemSpan items = dataset.items(u);
    lengths.push_back(items.size);
    st.users_with_eval += items.size >= 3;
    for (int32_t item : items) ++popularity[item];
  }
  popularity.erase(popularity.begin());  // padding item 0
  st.user_length = summarize_counts(std::move(lengths));
  st.item_popularity = summarize_counts(std::move(popularity));
  return st;
}

namespace {
std::string format_summary(const CountSummary& s) {
  std::string out = fmt::format("min {}, median {:g}, mean {:.2f}, max {}", s.min, s.median, s.mean, s.max);
  out += "\n    percentiles:";
  for (const auto& [p, v] : s.percentiles) out += fmt::format(" p{}={:g}", p, v);
  return out;
}
}  // namespace

std::string dataset_info(const std::string& path) {
  const SequenceDataset dataset = SequenceDataset::open(path);
  const DatasetStats st = compute_dataset_stats(dataset);
  std::string out = fmt::format("{}\n", path);
  out += fmt::format("  users         {}\n", st.users);
  out += fmt::format("  items         {}\n", st.items);
  out += fmt::format("  interactions  {}\n", st.interactions);
  out += fmt::format("  density       {:.3e}\n", st.density);
  out += fmt::format("  users with val/test (>= 3 items)  {}\n", st.users_with_eval);
  out += fmt::format("  sequence length: {}\n", format_summary(st.user_length));
  out += fmt::format("  item popularity: {}\n", format_summary(st.item_popularity));
  out += fmt::format("  timestamps    {}\n", dataset.has_timestamps() ? "yes" : "no");
  out += "  attributes:\n";
  for (const auto& [name, value] : dataset.attributes()) out += fmt::format("    {} = {}\n", name, to_string(value));
  return out;
}

}  // namespace llamarec
