#include "pipelines/preprocess_filter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/text_encoding.h"

namespace llamarec {
namespace {

DatasetCounts count(const std::vector<RawInteraction>& interactions, const std::vector<char>& keep, int32_t users,
                    int32_t items) {
  std::vector<char> user_seen(users, 0), item_seen(items, 0);
  DatasetCounts c;
  for (size_t i = 0; i < interactions.size(); ++i) {
    if (!keep[i]) continue;
    ++c.interactions;
    c.users += !user_seen[interactions[i].user];
    c.items += !item_seen[interactions[i].item];
    user_seen[interactions[i].user] = item_seen[interactions[i].item] = 1;
  }
  return c;
}

void log_counts(const std::string& stage, const DatasetCounts& c) {
  spdlog::info("  {:<28} {:>9} users {:>9} items {:>11} interactions", stage, c.users, c.items, c.interactions);
}

}  // namespace

int iterative_kcore(const std::vector<RawInteraction>& interactions, int32_t num_users, int32_t num_items,
                    int64_t min_user_count, int64_t min_item_count, std::vector<char>& keep) {
  std::vector<int64_t> user_count(num_users), item_count(num_items);
  int rounds = 0;
  while (true) {
    bool changed = false;
    std::fill(item_count.begin(), item_count.end(), 0);
    for (size_t i = 0; i < interactions.size(); ++i) item_count[interactions[i].item] += keep[i];
    for (size_t i = 0; i < interactions.size(); ++i) {
      if (keep[i] && item_count[interactions[i].item] < min_item_count) keep[i] = 0, changed = true;
    }
    std::fill(user_count.begin(), user_count.end(), 0);
    for (size_t i = 0; i < interactions.size(); ++i) user_count[interactions[i].user] += keep[i];
    for (size_t i = 0; i < interactions.size(); ++i) {
      if (keep[i] && user_count[interactions[i].user] < min_user_count) keep[i] = 0, changed = true;
    }
    if (!changed) return rounds;
    ++rounds;
  }
}

std::vector<int32_t> order_by_raw_id(const IdTable& ids, std::vector<int32_t> indices) {
  std::vector<int64_t> numeric(indices.size());
  bool all_integers = true;
  for (size_t k = 0; k < indices.size() && all_integers; ++k) {
    const std::string& name = ids.name(indices[k]);
    const auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), numeric[k]);
    all_integers = !name.empty() && ec == std::errc() && ptr == name.data() + name.size();
  }
  if (all_integers) {
    std::vector<size_t> perm(indices.size());
    std::iota(perm.begin(), perm.end(), 0);
    // Text breaks ties between equal numbers ("7" vs "07").
    std::sort(perm.begin(), perm.end(), [&](size_t a, size_t b) {
      if (numeric[a] != numeric[b]) return numeric[a] < numeric[b];
      return ids.name(indices[a]) < ids.name(indices[b]);
    });
    std::vector<int32_t> sorted(indices.size());
    for (size_t k = 0; k < perm.size(); ++k) sorted[k] = indices[perm[k]];
    return sorted;
  }
  std::sort(indices.begin(), indices.end(), [&](int32_t a, int32_t b) { return ids.name(a) < ids.name(b); });
  return indices;
}

SequenceData build_sequence_data(const RawDataset& raw, const FilterOptions& options, const std::string& source,
                                 FilterReport* report) {
  const auto& interactions = raw.interactions;
  const int32_t num_users = raw.users.size(), num_items = raw.items.size();
  FilterReport local;
  FilterReport& r = report ? *report : local;
  std::vector<char> keep(interactions.size(), 1);
  r.raw = count(interactions, keep, num_users, num_items);
  spdlog::info("{}: filtering", source);
  log_counts("raw", r.raw);

  // 1) Items without a non-empty title.
  std::vector<char> titled(num_items, 0);
  for (int32_t i = 0; i < num_items; ++i) {
    const auto it = raw.titles.find(raw.items.name(i));
    titled[i] = it != raw.titles.end() && !it->second.empty();
  }
  for (size_t i = 0; i < interactions.size(); ++i) keep[i] = titled[interactions[i].item];
  r.titled = count(interactions, keep, num_users, num_items);
  log_counts("items with a title", r.titled);

  // 2) Ratings below min_rating.
  if (options.min_rating > 0) {
    if (!raw.has_ratings) {
      fail("{}: data.min_rating = {} but this input has no ratings (set it to 0)", source, options.min_rating);
    }
    for (size_t i = 0; i < interactions.size(); ++i) {
      if (interactions[i].rating < options.min_rating) keep[i] = 0;
    }
  }
  r.rated = count(interactions, keep, num_users, num_items);
  log_counts(options.min_rating > 0 ? fmt::format("rating >= {}", options.min_rating) : "min_rating off", r.rated);

  // 3) Iterative k-core.
  r.kcore_rounds =
      iterative_kcore(interactions, num_users, num_items, options.min_user_count, options.min_item_count, keep);
  r.kcore = count(interactions, keep, num_users, num_items);
  log_counts(fmt::format("{}/{}-core ({} rounds)", options.min_user_count, options.min_item_count, r.kcore_rounds),
             r.kcore);
  if (r.kcore.interactions == 0) {
    fail(
        "{}: no interactions left after filtering (raw {} / titled {} / rated {}; min_user_count {}, "
        "min_item_count {}, min_rating {})",
        source, r.raw.interactions, r.titled.interactions, r.rated.interactions, options.min_user_count,
        options.min_item_count, options.min_rating);
  }

  // 4) Dense ids in raw-id order.
  std::vector<char> user_kept(num_users, 0), item_kept(num_items, 0);
  for (size_t i = 0; i < interactions.size(); ++i) {
    if (keep[i]) user_kept[interactions[i].user] = item_kept[interactions[i].item] = 1;
  }
  std::vector<int32_t> users, items;
  for (int32_t u = 0; u < num_users; ++u) {
    if (user_kept[u]) users.push_back(u);
  }
  for (int32_t i = 0; i < num_items; ++i) {
    if (item_kept[i]) items.push_back(i);
  }
  users = order_by_raw_id(raw.users, std::move(users));
  items = order_by_raw_id(raw.items, std::move(items));
  std::vector<int32_t> dense_user(num_users, -1), dense_item(num_items, 0);
  SequenceData data;
  data.item_titles.assign(1, "");
  data.item_raw_ids.assign(1, "");
  for (size_t k = 0; k < items.size(); ++k) {
    dense_item[items[k]] = static_cast<int32_t>(k + 1);
    const std::string& name = raw.items.name(items[k]);
    data.item_raw_ids.push_back(utf8_or_latin1(name));
    data.item_titles.push_back(raw.titles.at(name));
  }
  for (size_t k = 0; k < users.size(); ++k) {
    dense_user[users[k]] = static_cast<int32_t>(k);
    data.user_raw_ids.push_back(utf8_or_latin1(raw.users.name(users[k])));
  }

  // 5) Per-user chronological order; equal timestamps stay in file order (stable sort).
  std::vector<size_t> rows;
  rows.reserve(static_cast<size_t>(r.kcore.interactions));
  for (size_t i = 0; i < interactions.size(); ++i) {
    if (keep[i]) rows.push_back(i);
  }
  std::stable_sort(rows.begin(), rows.end(), [&](size_t a, size_t b) {
    const int32_t ua = dense_user[interactions[a].user], ub = dense_user[interactions[b].user];
    if (ua != ub) return ua < ub;
    return interactions[a].timestamp < interactions[b].timestamp;
  });
  data.offsets.assign(users.size() + 1, 0);
  data.items.reserve(rows.size());
  if (raw.has_timestamps) data.timestamps.reserve(rows.size());
  for (size_t i : rows) {
    ++data.offsets[dense_user[interactions[i].user] + 1];
    data.items.push_back(dense_item[interactions[i].item]);
    if (raw.has_timestamps) data.timestamps.push_back(static_cast<int64_t>(std::floor(interactions[i].timestamp)));
  }
  std::partial_sum(data.offsets.begin(), data.offsets.end(), data.offsets.begin());
  return data;
}

}  // namespace llamarec
