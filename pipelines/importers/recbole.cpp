#include "pipelines/importers/recbole.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>

#include "core/error.h"
#include "pipelines/importers/csv.h"
#include "core/text_encoding.h"

namespace llamarec {
namespace {

namespace fs = std::filesystem;

fs::path find_inter_file(const std::string& input) {
  std::error_code ec;
  if (!fs::exists(input, ec)) fail("{}: no such file or directory", input);
  if (!fs::is_directory(input, ec)) {
    if (fs::path(input).extension() != ".inter") fail("{}: expected a RecBole .inter file or its folder", input);
    return input;
  }
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(input)) {
    if (entry.is_regular_file() && entry.path().extension() == ".inter") found.push_back(entry.path());
  }
  if (found.empty()) fail("{}: no .inter file in this folder", input);
  if (found.size() > 1) {
    std::string names;
    for (const auto& p : found) names += (names.empty() ? "" : ", ") + p.filename().string();
    fail("{}: several .inter files ({}); give the one to use as data.input", input, names);
  }
  return found.front();
}

// The header's field names ("user_id:token" -> "user_id").
struct Header {
  std::vector<std::string> names;
  std::optional<size_t> find(const std::string& name) const {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return i;
    }
    return std::nullopt;
  }
  size_t require(const std::string& name, const std::string& path) const {
    const auto index = find(name);
    if (!index) fail("{}:1: header has no '{}' column (RecBole field '{}:token')", path, name, name);
    return *index;
  }
};

Header read_header(LineReader& lines) {
  std::string line;
  if (!lines.next(line)) fail("{}: empty file (expected a RecBole header line)", lines.path());
  Header header;
  for (auto field : split_fields(line, "\t")) header.names.emplace_back(field.substr(0, field.find(':')));
  return header;
}

void read_items(const std::string& path, TextEncoding encoding, RawDataset& raw) {
  LineReader lines(path);
  const Header header = read_header(lines);
  const size_t id_col = header.require("item_id", path), title_col = header.require("title", path);
  std::string line;
  int64_t rows = 0;
  while (lines.next(line)) {
    if (line.empty()) continue;
    const auto fields = split_fields(line, "\t");
    if (fields.size() <= std::max(id_col, title_col)) {
      fail("{}:{}: expected {} tab-separated fields, found {}", path, lines.line_number(), header.names.size(),
           fields.size());
    }
    ++rows;
    std::string title =
        python_strip(decode_text(fields[title_col], encoding, fmt::format("{}:{}", path, lines.line_number())));
    if (!title.empty()) raw.titles[std::string(fields[id_col])] = std::move(title);
  }
  spdlog::info("{}: {} items, {} with a title", path, rows, raw.titles.size());
}

}  // namespace

RawDataset import_recbole(const std::string& input, const std::string& item_file, TextEncoding encoding) {
  const fs::path inter = find_inter_file(input);
  const fs::path items = item_file.empty() ? fs::path(inter).replace_extension(".item") : fs::path(item_file);
  std::error_code ec;
  if (!fs::exists(items, ec)) {
    fail("{}: no item titles: {} does not exist (set data.meta to the .item file)", inter.string(), items.string());
  }
  RawDataset raw;
  raw.format = "recbole";
  raw.files = {inter.string(), items.string()};
  read_items(items.string(), encoding, raw);

  const std::string path = inter.string();
  LineReader lines(path);
  const Header header = read_header(lines);
  const size_t user_col = header.require("user_id", path), item_col = header.require("item_id", path);
  const auto rating_col = header.find("rating"), time_col = header.find("timestamp");
  raw.has_ratings = rating_col.has_value();
  raw.has_timestamps = time_col.has_value();
  const size_t needed = header.names.size();
  std::string line;
  while (lines.next(line)) {
    if (line.empty()) continue;
    const int64_t n = lines.line_number();
    const auto fields = split_fields(line, "\t");
    if (fields.size() != needed) {
      fail("{}:{}: expected {} tab-separated fields, found {}", path, n, needed, fields.size());
    }
    const float rating = rating_col ? static_cast<float>(parse_double(fields[*rating_col], path, n, "rating")) : 0.f;
    const double timestamp = time_col ? parse_double(fields[*time_col], path, n, "timestamp") : 0.0;
    raw.add(fields[user_col], fields[item_col], rating, timestamp);
  }
  spdlog::info("{}: {} interactions (ratings: {}, timestamps: {})", path, raw.interactions.size(),
               raw.has_ratings ? "yes" : "no", raw.has_timestamps ? "yes" : "no");
  return raw;
}

}  // namespace llamarec
