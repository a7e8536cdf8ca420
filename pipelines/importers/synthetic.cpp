#include "pipelines/importers/synthetic.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"

namespace llamarec {
namespace {

const char* const kThemes[] = {"Crimson", "Silent",  "Golden", "Frozen", "Electric", "Hidden",  "Wild",   "Ancient",
                               "Velvet",  "Iron",    "Lunar",  "Solar",  "Emerald",  "Misty",   "Rapid",  "Gentle",
                               "Hollow",  "Radiant", "Bitter", "Copper", "Scarlet",  "Distant", "Nimble", "Quiet"};
const char* const kDomains[] = {"Harbor", "Galaxy",  "Forest",  "Desert",  "Kitchen", "Garden", "Castle", "Circuit",
                                "Ocean",  "Canyon",  "Studio",  "Meadow",  "Harvest", "Summit", "Lagoon", "Market",
                                "Tundra", "Orchard", "Citadel", "Prairie", "Glacier", "Bazaar", "Reef",   "Valley"};
const char* const kObjects[] = {"Lantern", "Chronicle", "Compass", "Journal", "Melody",   "Puzzle", "Voyage", "Engine",
                                "Mirror",  "Anthem",    "Riddle",  "Cipher",  "Tapestry", "Beacon", "Atlas",  "Saga"};
constexpr int64_t kWords = 24;

// mt19937_64's output sequence is fixed by the standard; these helpers keep the rest portable.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed ^ 0x9E3779B97F4A7C15ULL) {}
  uint64_t below(uint64_t n) { return engine_() % n; }
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

struct Cluster {
  std::vector<int64_t> items;      // by popularity rank
  std::vector<double> cumulative;  // Zipf-like popularity, cumulative
};

int64_t sample_from(const Cluster& cluster, Rng& rng) {
  const double r = rng.uniform() * cluster.cumulative.back();
  const auto it = std::upper_bound(cluster.cumulative.begin(), cluster.cumulative.end(), r);
  return cluster.items[std::min<size_t>(it - cluster.cumulative.begin(), cluster.items.size() - 1)];
}

void validate(const SyntheticOptions& o) {
  if (o.users < 1) fail("data.synthetic_users = {}: needs at least 1 user", o.users);
  if (o.items < 4) fail("data.synthetic_items = {}: needs at least 4 items", o.items);
  if (o.items > (int64_t{1} << 30)) fail("data.synthetic_items = {}: too many items", o.items);
  if (o.min_length < 1) fail("data.synthetic_min_length = {}: must be at least 1", o.min_length);
  if (o.max_length < o.min_length) {
    fail("data.synthetic_max_length = {} is below data.synthetic_min_length = {}", o.max_length, o.min_length);
  }
}

}  // namespace

RawDataset generate_synthetic(const SyntheticOptions& o) {
  validate(o);
  Rng rng(o.seed);
  // About 40 items per cluster, 2..24 clusters, at least 2 items each.
  const int64_t num_clusters = std::clamp<int64_t>(o.items / 40, 2, std::min<int64_t>(kWords, o.items / 2));

  std::vector<int64_t> order(o.items);
  for (int64_t i = 0; i < o.items; ++i) order[i] = i;
  rng.shuffle(order);
  std::vector<Cluster> clusters(num_clusters);
  std::vector<int64_t> cluster_of(o.items);
  for (int64_t k = 0; k < o.items; ++k) {
    clusters[k % num_clusters].items.push_back(order[k]);
    cluster_of[order[k]] = k % num_clusters;
  }

  RawDataset raw;
  raw.format = "synthetic";
  raw.has_ratings = raw.has_timestamps = true;
  std::vector<int64_t> successor(o.items);
  for (int64_t c = 0; c < num_clusters; ++c) {
    Cluster& cluster = clusters[c];
    for (size_t rank = 0; rank < cluster.items.size(); ++rank) {
      const double weight = 1.0 / std::pow(static_cast<double>(rank + 1), 0.8);
      cluster.cumulative.push_back((cluster.cumulative.empty() ? 0.0 : cluster.cumulative.back()) + weight);
    }
    // Successors form one cycle through the cluster in a random order.
    std::vector<int64_t> cycle = cluster.items;
    rng.shuffle(cycle);
    for (size_t k = 0; k < cycle.size(); ++k) successor[cycle[k]] = cycle[(k + 1) % cycle.size()];
    const std::string prefix = std::string(kThemes[c % kWords]) + " " + kDomains[(c * 7 + 3) % kWords];
    for (size_t rank = 0; rank < cluster.items.size(); ++rank) {
      const int64_t item = cluster.items[rank];
      raw.titles[std::to_string(item + 1)] =
          prefix + " " + kObjects[rng.below(std::size(kObjects))] + " " + std::to_string(rank + 1);
    }
  }

  for (int64_t u = 0; u < o.users; ++u) {
    const int64_t primary = static_cast<int64_t>(rng.below(num_clusters));
    const int64_t secondary = (primary + 1 + static_cast<int64_t>(rng.below(num_clusters - 1))) % num_clusters;
    const double loyalty = 0.6 + 0.3 * rng.uniform();
    const int64_t length = o.min_length + static_cast<int64_t>(rng.below(o.max_length - o.min_length + 1));
    double time = 1.5e9 + static_cast<double>(rng.below(10'000'000));
    const std::string user = std::to_string(u + 1);
    int64_t previous = -1;
    for (int64_t t = 0; t < length; ++t) {
      const double r = rng.uniform();
      int64_t item;
      bool liked = true;
      if (previous >= 0 && r < kSyntheticSuccessorProbability) {
        item = successor[previous];
      } else if (previous < 0 || r < kSyntheticSuccessorProbability + kSyntheticClusterProbability) {
        item = sample_from(clusters[rng.uniform() < loyalty ? primary : secondary], rng);
      } else {
        item = static_cast<int64_t>(rng.below(o.items));
        liked = cluster_of[item] == primary || cluster_of[item] == secondary;
      }
      const float rating = static_cast<float>(liked ? 4 + rng.below(2) : 1 + rng.below(3));
      raw.add(user, std::to_string(item + 1), rating, time);
      time += 60.0 + static_cast<double>(rng.below(86'400));
      previous = item;
    }
  }
  raw.files = {"synthetic"};
  spdlog::info("synthetic: {} users, {} items in {} clusters, {} interactions (seed {})", o.users, o.items,
               num_clusters, raw.interactions.size(), o.seed);
  return raw;
}

}  // namespace llamarec
