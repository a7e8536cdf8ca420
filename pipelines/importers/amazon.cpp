#include "pipelines/importers/amazon.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "pipelines/importers/csv.h"
#include "pipelines/importers/python_literal.h"
#include "core/text_encoding.h"

namespace llamarec {
namespace {

// Rows looked at to tell user,item from item,user.
constexpr size_t kOrientationSample = 10000;

nlohmann::json parse_meta_line(const std::string& line, const std::string& path, int64_t number) {
  nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (record.is_discarded()) {
    try {
      record = parse_python_literal(line);
    } catch (const Error& e) {
      fail("{}:{}: neither JSON nor a Python dict literal: {}", path, number, e.what());
    }
  }
  if (!record.is_object()) fail("{}:{}: expected one object per line, found {}", path, number, record.type_name());
  return record;
}

void read_meta(const std::string& path, TextEncoding encoding, RawDataset& raw) {
  LineReader lines(path);
  std::string line;
  int64_t records = 0, untitled = 0;
  while (lines.next(line)) {
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const nlohmann::json record = parse_meta_line(
        decode_text(line, encoding, fmt::format("{}:{}", path, lines.line_number())), path, lines.line_number());
    ++records;
    const auto asin = record.find("asin");
    if (asin == record.end() || !asin->is_string()) {
      fail("{}:{}: record has no string 'asin'", path, lines.line_number());
    }
    const auto title = record.find("title");
    std::string text = title != record.end() && title->is_string() ? python_strip(title->get<std::string>()) : "";
    if (text.empty()) {
      ++untitled;
      continue;
    }
    raw.titles[python_strip(asin->get<std::string>())] = std::move(text);
  }
  spdlog::info("{}: {} metadata records, {} with a title, {} without", path, records, records - untitled, untitled);
}

struct Row {
  std::string a, b;
  float rating;
  double timestamp;
};

}  // namespace

RawDataset import_amazon(const std::string& ratings, const std::string& meta, TextEncoding encoding) {
  if (ratings.empty()) fail("amazon format: data.input (the ratings CSV) is not set");
  if (meta.empty()) fail("{}: amazon format needs the metadata file (data.meta, .json or .json.gz)", ratings);
  RawDataset raw;
  raw.files = {ratings, meta};
  raw.has_ratings = raw.has_timestamps = true;
  read_meta(meta, encoding, raw);

  CsvReader csv(ratings);
  std::vector<std::string> fields;
  std::vector<Row> sample;
  bool item_first = false, decided = false;
  auto emit = [&](const Row& row) {
    raw.add(item_first ? row.b : row.a, item_first ? row.a : row.b, row.rating, row.timestamp);
  };
  auto decide = [&] {
    size_t first_hits = 0, second_hits = 0;
    for (const auto& row : sample) {
      first_hits += raw.titles.count(row.a);
      second_hits += raw.titles.count(row.b);
    }
    item_first = first_hits > second_hits;
    decided = true;
    spdlog::info("{}: columns are {},rating,timestamp ({} of {} sampled rows match a metadata asin)", ratings,
                 item_first ? "item,user" : "user,item", std::max(first_hits, second_hits), sample.size());
    for (const auto& row : sample) emit(row);
    sample.clear();
  };
  while (csv.next(fields)) {
    const int64_t line = csv.line_number();
    if (fields.size() != 4) {
      fail("{}:{}: expected 4 fields (user,item,rating,timestamp), found {}", ratings, line, fields.size());
    }
    Row row{fields[0], fields[1], static_cast<float>(parse_double(fields[2], ratings, line, "rating")),
            parse_double(fields[3], ratings, line, "timestamp")};
    if (decided) {
      emit(row);
    } else {
      sample.push_back(std::move(row));
      if (sample.size() == kOrientationSample) decide();
    }
  }
  if (!decided) decide();
  raw.format = item_first ? "amazon-item-user" : "amazon-user-item";
  spdlog::info("{}: {} ratings", ratings, raw.interactions.size());
  return raw;
}

}  // namespace llamarec
