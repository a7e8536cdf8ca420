#include "core/text_encoding.h"
#include "core/sequence_dataset.h"

#include <algorithm>

#include "core/error.h"

namespace llamarec {
namespace {

const char* const kRequiredDatasets[] = {"/items/title", "/items/raw_id", "/users/offsets", "/users/items",
                                         "/users/raw_id"};

int64_t int_attribute(const Hdf5File& file, const std::string& name) {
  const H5AttributeValue value = file.attribute(name);
  if (const auto* i = std::get_if<int64_t>(&value)) return *i;
  fail("{}: attribute {} is not an integer", file.path(), name);
}

// An attribute count, when present, must agree with the datasets.
void check_count(const Hdf5File& file, const std::string& attribute, int64_t actual, const std::string& source) {
  if (!file.has_attribute(attribute)) return;
  const int64_t stored = int_attribute(file, attribute);
  if (stored != actual) {
    fail("{}: attribute {}={} disagrees with {} ({}); the file is inconsistent", file.path(), attribute, stored, source,
         actual);
  }
}

void check_offsets(const std::vector<int64_t>& offsets, int64_t num_items_stored, const std::string& path) {
  if (offsets.front() != 0) fail("{}: /users/offsets[0] is {}, expected 0", path, offsets.front());
  for (size_t u = 1; u < offsets.size(); ++u) {
    if (offsets[u] < offsets[u - 1]) {
      fail("{}: /users/offsets decreases at user {} ({} < {})", path, u - 1, offsets[u], offsets[u - 1]);
    }
  }
  if (offsets.back() != num_items_stored) {
    fail("{}: /users/offsets ends at {} but /users/items has {} elements", path, offsets.back(), num_items_stored);
  }
}

}  // namespace

std::vector<int64_t> plan_user_shards(const std::vector<int64_t>& offsets, int world_size, const std::string& path) {
  if (world_size < 1) fail("{}: cannot shard over {} ranks", path, world_size);
  if (offsets.empty()) fail("{}: /users/offsets is empty (expected num_users + 1 entries)", path);
  const int64_t users = static_cast<int64_t>(offsets.size()) - 1;
  if (users < world_size) {
    fail("{}: {} users cannot be split over {} ranks (every rank needs at least one user)", path, users, world_size);
  }
  const int64_t total = offsets.back() - offsets.front();
  std::vector<int64_t> bounds(static_cast<size_t>(world_size) + 1, 0);
  bounds.back() = users;
  for (int r = 1; r < world_size; ++r) {
    // Boundary u splits before user u; offsets[u] interactions lie to its left.
    const long double target = offsets.front() + static_cast<long double>(total) * r / world_size;
    auto it = std::lower_bound(offsets.begin(), offsets.end(), target,
                               [](int64_t value, long double t) { return value < t; });
    int64_t u = it - offsets.begin();
    if (u > users) {
      u = users;
    } else if (u > 0 && target - offsets[u - 1] < offsets[u] - target) {
      --u;
    }
    // At least one user for this rank and each rank after it.
    u = std::clamp<int64_t>(u, bounds[r - 1] + 1, users - (world_size - r));
    bounds[r] = u;
  }
  return bounds;
}

SequenceDataset SequenceDataset::open(const std::string& path) { return load(path, 0, 1); }

SequenceDataset SequenceDataset::open_shard(const std::string& path, int rank, int world_size) {
  if (rank < 0 || rank >= world_size) fail("{}: rank {} is outside a world of {}", path, rank, world_size);
  return load(path, rank, world_size);
}

SequenceDataset SequenceDataset::load(const std::string& path, int rank, int world_size) {
  Hdf5File file(path, Hdf5File::Mode::kRead);
  if (!file.has_attribute("schema_version")) {
    fail("{}: not a llamarec dataset (no schema_version attribute; create it with `llamarec preprocess`)", path);
  }
  const int64_t version = int_attribute(file, "schema_version");
  if (version != kSequenceSchemaVersion) {
    fail("{}: schema_version {} is not supported (this build reads version {})", path, version, kSequenceSchemaVersion);
  }
  for (const char* name : kRequiredDatasets) {
    if (!file.exists(name)) fail("{}: missing dataset {} (not a complete llamarec dataset)", path, name);
  }

  SequenceDataset ds;
  ds.path_ = path;
  ds.attributes_ = file.attributes();
  ds.titles_ = file.read_strings("/items/title");
  if (ds.titles_.empty()) fail("{}: /items/title is empty (expected num_items + 1 entries, 0 = padding)", path);
  ds.item_raw_ids_ = file.read_strings("/items/raw_id");
  if (ds.item_raw_ids_.size() != ds.titles_.size()) {
    fail("{}: /items/raw_id has {} entries but /items/title has {}", path, ds.item_raw_ids_.size(), ds.titles_.size());
  }
  ds.num_items_ = static_cast<int64_t>(ds.titles_.size()) - 1;
  // Titles go into prompts and JSON: text that is not UTF-8 would fail far from here.
  for (size_t item = 0; item < ds.titles_.size(); ++item) {
    const size_t bad = invalid_utf8_offset(ds.titles_[item]);
    if (bad != std::string_view::npos)
      fail(
          "{}: /items/title of item {} is not valid UTF-8 (byte 0x{:02x} at offset {}); llamarec preprocess stores "
          "UTF-8 (data.encoding chooses how raw files are read): re-create the dataset with it",
          path, item, static_cast<unsigned char>(ds.titles_[item][bad]), bad);
  }

  const int64_t offsets_length = file.length("/users/offsets");
  if (offsets_length < 1) fail("{}: /users/offsets is empty (expected num_users + 1 entries)", path);
  ds.num_users_ = offsets_length - 1;
  ds.num_interactions_ = file.length("/users/items");
  const int64_t raw_users = file.length("/users/raw_id");
  if (raw_users != ds.num_users_) {
    fail("{}: /users/raw_id has {} entries but /users/offsets describes {} users", path, raw_users, ds.num_users_);
  }
  ds.has_timestamps_ = file.exists("/users/timestamps");
  if (ds.has_timestamps_ && file.length("/users/timestamps") != ds.num_interactions_) {
    fail("{}: /users/timestamps has {} entries but /users/items has {}", path, file.length("/users/timestamps"),
         ds.num_interactions_);
  }
  check_count(file, "num_users", ds.num_users_, "/users/offsets");
  check_count(file, "num_items", ds.num_items_, "/items/title");
  check_count(file, "num_interactions", ds.num_interactions_, "/users/items");

  // The plan needs all U+1 offsets (small); the items are read for this rank's range only.
  const std::vector<int64_t> offsets = file.read_int64("/users/offsets");
  check_offsets(offsets, ds.num_interactions_, path);
  const std::vector<int64_t> bounds = plan_user_shards(offsets, world_size, path);
  const int64_t begin = bounds[rank], end = bounds[rank + 1];
  const int64_t first = offsets[begin], last = offsets[end];

  ds.user_begin_ = begin;
  ds.offsets_.assign(offsets.begin() + begin, offsets.begin() + end + 1);
  for (auto& o : ds.offsets_) o -= first;
  ds.items_ = file.read_int32("/users/items", first, last - first);
  for (size_t i = 0; i < ds.items_.size(); ++i) {
    const int32_t item = ds.items_[i];
    if (item < 1 || item > ds.num_items_) {
      fail("{}: /users/items[{}] = {} is outside the item ids 1..{}", path, first + static_cast<int64_t>(i), item,
           ds.num_items_);
    }
  }
  if (ds.has_timestamps_) ds.timestamps_ = file.read_int64("/users/timestamps", first, last - first);
  ds.user_raw_ids_ = file.read_strings("/users/raw_id", begin, end - begin);
  file.close();
  return ds;
}

void SequenceDataset::check_local(int64_t local) const {
  if (local < 0 || local >= num_local_users()) {
    fail("{}: local user {} is outside this shard's {} users", path_, local, num_local_users());
  }
}

ItemSpan SequenceDataset::items(int64_t local) const {
  check_local(local);
  const int64_t begin = offsets_[local];
  return {items_.data() + begin, offsets_[local + 1] - begin};
}

ItemSpan SequenceDataset::train_items(int64_t local) const {
  ItemSpan all = items(local);
  if (all.size >= 3) all.size -= 2;
  return all;
}

EvalExample SequenceDataset::example(int64_t local, Split split) const {
  const ItemSpan all = items(local);
  if (all.size < 3) {
    fail("{}: user {} has {} items, too few for a leave-one-out example (needs 3)", path_, global_user(local),
         all.size);
  }
  const int64_t target_index = split == Split::kTest ? all.size - 1 : all.size - 2;
  return {ItemSpan{all.data, target_index}, all[target_index]};
}

std::vector<int64_t> SequenceDataset::timestamps(int64_t local) const {
  check_local(local);
  if (!has_timestamps_) return {};
  return {timestamps_.begin() + offsets_[local], timestamps_.begin() + offsets_[local + 1]};
}

const std::string& SequenceDataset::user_raw_id(int64_t local) const {
  check_local(local);
  return user_raw_ids_[local];
}

const std::string& SequenceDataset::title(int64_t item) const {
  if (item < 0 || item > num_items_) fail("{}: item {} is outside 0..{}", path_, item, num_items_);
  return titles_[item];
}

const std::string& SequenceDataset::item_raw_id(int64_t item) const {
  if (item < 0 || item > num_items_) fail("{}: item {} is outside 0..{}", path_, item, num_items_);
  return item_raw_ids_[item];
}

}  // namespace llamarec
