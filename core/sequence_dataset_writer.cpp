#include "core/sequence_dataset_writer.h"

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/sequence_dataset.h"

namespace llamarec {
namespace {

// Refuses data that would produce a file the reader rejects.
void validate(const SequenceData& data, const std::string& path) {
  if (data.item_titles.empty()) fail("{}: no item titles to write (index 0 is the padding item)", path);
  if (data.item_raw_ids.size() != data.item_titles.size()) {
    fail("{}: {} item raw ids for {} item titles", path, data.item_raw_ids.size(), data.item_titles.size());
  }
  if (data.offsets.size() != data.user_raw_ids.size() + 1) {
    fail("{}: {} user offsets for {} users (expected users + 1)", path, data.offsets.size(), data.user_raw_ids.size());
  }
  if (data.offsets.front() != 0 || data.offsets.back() != data.num_interactions()) {
    fail("{}: user offsets must run from 0 to the number of interactions ({})", path, data.num_interactions());
  }
  for (size_t u = 1; u < data.offsets.size(); ++u) {
    if (data.offsets[u] < data.offsets[u - 1]) fail("{}: user offsets decrease at user {}", path, u - 1);
  }
  for (int32_t item : data.items) {
    if (item < 1 || item > data.num_items()) fail("{}: item id {} is outside 1..{}", path, item, data.num_items());
  }
  if (!data.timestamps.empty() && data.timestamps.size() != data.items.size()) {
    fail("{}: {} timestamps for {} interactions", path, data.timestamps.size(), data.items.size());
  }
}

void write_file(const std::string& path, const SequenceData& data, const H5Attributes& provenance) {
  Hdf5File file(path, Hdf5File::Mode::kCreate);
  file.create_group("/items");
  file.create_group("/users");
  file.write_strings("/items/title", data.item_titles);
  file.write_strings("/items/raw_id", data.item_raw_ids);
  file.write_int64("/users/offsets", data.offsets);
  file.write_int32("/users/items", data.items);
  file.write_strings("/users/raw_id", data.user_raw_ids);
  if (!data.timestamps.empty()) file.write_int64("/users/timestamps", data.timestamps);
  for (const auto& [name, value] : provenance) file.set_attribute(name, value);
  file.set_attribute("schema_version", kSequenceSchemaVersion);
  file.set_attribute("created_by", std::string("llamarec"));
  file.set_attribute("num_users", data.num_users());
  file.set_attribute("num_items", data.num_items());
  file.set_attribute("num_interactions", data.num_interactions());
  file.close();
}

}  // namespace

void write_sequence_dataset(const std::string& path, const SequenceData& data, const H5Attributes& provenance) {
  validate(data, path);
  try {
    commit_file_atomic(path, [&](const std::string& temp) { write_file(temp, data, provenance); });
  } catch (const std::filesystem::filesystem_error& e) {
    // Directory creation or the final rename failed; the temp file is already gone.
    fail("{}: cannot write the dataset: {}", path, e.what());
  }
}

}  // namespace llamarec
