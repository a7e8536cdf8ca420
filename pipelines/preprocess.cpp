#include "pipelines/preprocess.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/sequence_dataset.h"
#include "core/sequence_dataset_writer.h"
#include "pipelines/importers/amazon.h"
#include "pipelines/importers/movielens.h"
#include "pipelines/importers/recbole.h"

namespace llamarec {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string joined_formats() {
  std::string out;
  for (const auto& f : preprocess_formats()) out += (out.empty() ? "" : ", ") + f;
  return out;
}

std::string source_name(const PreprocessOptions& o) { return o.format == "synthetic" ? "synthetic" : o.input; }

// The attributes that depend on the options alone: equal ones mean the same dataset.
H5Attributes requested_attributes(const PreprocessOptions& o) {
  H5Attributes a;
  a["format"] = o.format;
  a["input_path"] = o.format == "synthetic" ? std::string("synthetic") : o.input;
  a["meta_path"] = o.meta;
  a["min_user_count"] = o.filter.min_user_count;
  a["min_item_count"] = o.filter.min_item_count;
  a["min_rating"] = o.filter.min_rating;
  // Recorded only when not auto, so that datasets made before the key existed stay current.
  if (o.format != "synthetic" && o.encoding != TextEncoding::kAuto) a["encoding"] = enum_name(o.encoding);
  if (o.format == "synthetic") {
    a["synthetic_seed"] = static_cast<int64_t>(o.synthetic.seed);
    a["synthetic_users"] = o.synthetic.users;
    a["synthetic_items"] = o.synthetic.items;
    a["synthetic_min_length"] = o.synthetic.min_length;
    a["synthetic_max_length"] = o.synthetic.max_length;
  }
  return a;
}

H5Attributes provenance(const PreprocessOptions& o, const RawDataset& raw, const FilterReport& r) {
  H5Attributes a = requested_attributes(o);
  a["source_format"] = raw.format;
  a["kcore_rounds"] = static_cast<int64_t>(r.kcore_rounds);
  a["raw_users"] = r.raw.users;
  a["raw_items"] = r.raw.items;
  a["raw_interactions"] = r.raw.interactions;
  a["id_order"] = std::string("ascending raw id (numeric when all raw ids are integers); items from 1, users from 0");
  a["tie_break"] = std::string("timestamp, then file order");
  return a;
}

}  // namespace

RawDataset import_raw_dataset(const PreprocessOptions& o) {
  if (o.format == "synthetic") return generate_synthetic(o.synthetic);
  if (std::find(preprocess_formats().begin(), preprocess_formats().end(), o.format) == preprocess_formats().end()) {
    fail("data.format = '{}' is not a known format (valid: {})", o.format, joined_formats());
  }
  if (o.input.empty()) fail("data.format = '{}' needs data.input (the raw data path)", o.format);
  if (o.format == "movielens") return import_movielens(o.input, o.encoding);
  if (o.format == "amazon") return import_amazon(o.input, o.meta, o.encoding);
  return import_recbole(o.input, o.meta, o.encoding);
}

bool preprocess_output_current(const PreprocessOptions& o) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(o.output, ec)) return false;
  try {
    // Writes are atomic, so an existing file with the schema's datasets is complete.
    const Hdf5File file(o.output, Hdf5File::Mode::kRead);
    if (!file.has_attribute("schema_version") ||
        file.attribute("schema_version") != H5AttributeValue(kSequenceSchemaVersion)) {
      return false;
    }
    for (const char* name : {"/items/title", "/items/raw_id", "/users/offsets", "/users/items", "/users/raw_id"}) {
      if (!file.exists(name)) return false;
    }
    const H5Attributes stored = file.attributes();
    for (const auto& [name, value] : requested_attributes(o)) {
      const auto it = stored.find(name);
      if (it == stored.end() || it->second != value) return false;
    }
    return true;
  } catch (const Error&) {
    return false;
  }
}

PreprocessSummary run_preprocess(const PreprocessOptions& o) {
  PreprocessSummary summary;
  auto start = std::chrono::steady_clock::now();
  const RawDataset raw = import_raw_dataset(o);
  summary.source_format = raw.format;
  summary.import_seconds = seconds_since(start);

  start = std::chrono::steady_clock::now();
  const SequenceData data = build_sequence_data(raw, o.filter, source_name(o), &summary.report);
  summary.filter_seconds = seconds_since(start);

  start = std::chrono::steady_clock::now();
  write_sequence_dataset(o.output, data, provenance(o, raw, summary.report));
  summary.write_seconds = seconds_since(start);

  const auto& k = summary.report.kcore;
  spdlog::info(
      "{}: {} users, {} items, {} interactions (avg length {:.2f}, density {:.2e}); "
      "import {:.2f}s, filter {:.2f}s, write {:.2f}s",
      o.output, k.users, k.items, k.interactions, static_cast<double>(k.interactions) / k.users,
      static_cast<double>(k.interactions) / (static_cast<double>(k.users) * k.items), summary.import_seconds,
      summary.filter_seconds, summary.write_seconds);
  return summary;
}

}  // namespace llamarec
