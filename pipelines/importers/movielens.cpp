#include "pipelines/importers/movielens.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "core/error.h"
#include "pipelines/importers/csv.h"
#include "core/text_encoding.h"

namespace llamarec {
namespace {

namespace fs = std::filesystem;

enum class Flavour { kCsv, kDat, kUData };

struct Layout {
  Flavour flavour;
  fs::path ratings;
  fs::path movies;
  const char* name;
};

Layout detect_layout(const std::string& input) {
  std::error_code ec;
  if (!fs::exists(input, ec)) fail("{}: no such file or directory", input);
  const fs::path folder = fs::is_directory(input, ec) ? fs::path(input) : fs::path(input).parent_path();
  const Layout candidates[] = {
      {Flavour::kCsv, folder / "ratings.csv", folder / "movies.csv", "movielens-csv"},
      {Flavour::kDat, folder / "ratings.dat", folder / "movies.dat", "movielens-dat"},
      {Flavour::kUData, folder / "u.data", folder / "u.item", "movielens-100k"},
  };
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c.ratings, ec) && fs::is_regular_file(c.movies, ec)) return c;
  }
  fail("{}: not a MovieLens folder (expected ratings.csv + movies.csv, ratings.dat + movies.dat, or u.data + u.item)",
       folder.string());
}

// Column index of `name` in a CSV header, or an error naming the file.
size_t column(const std::vector<std::string>& header, const std::string& name, const std::string& path) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  fail("{}:1: header has no '{}' column", path, name);
}

// (id, title) rows of a movie file. auto decodes the file as a whole: UTF-8 if all of it is, else
// Latin-1 (ml-1m and ml-100k are Latin-1; a per-row choice would mix the two).
std::vector<std::pair<std::string, std::string>> read_movies(const Layout& layout, TextEncoding encoding) {
  const std::string path = layout.movies.string();
  std::vector<std::pair<std::string, std::string>> rows;
  std::vector<int64_t> line_numbers;
  if (layout.flavour == Flavour::kCsv) {
    CsvReader csv(path);
    std::vector<std::string> fields;
    if (!csv.next(fields)) fail("{}: empty file", path);
    const size_t id_col = column(fields, "movieId", path), title_col = column(fields, "title", path);
    while (csv.next(fields)) {
      if (fields.size() <= std::max(id_col, title_col)) {
        fail("{}:{}: expected at least {} fields, found {}", path, csv.line_number(), std::max(id_col, title_col) + 1,
             fields.size());
      }
      rows.emplace_back(fields[id_col], fields[title_col]);
      line_numbers.push_back(csv.line_number());
    }
  } else {
    LineReader lines(path);
    const std::string separator = layout.flavour == Flavour::kDat ? "::" : "|";
    std::string line;
    while (lines.next(line)) {
      if (line.empty()) continue;
      const auto fields = split_fields(line, separator);
      if (fields.size() < 2) fail("{}:{}: expected id{}title, found '{}'", path, lines.line_number(), separator, line);
      std::string title(fields[1]);
      // movies.dat: id::title::genres; a title containing "::" keeps its pieces.
      if (layout.flavour == Flavour::kDat) {
        for (size_t k = 2; k + 1 < fields.size(); ++k) title += "::" + std::string(fields[k]);
      }
      rows.emplace_back(std::string(fields[0]), title);
      line_numbers.push_back(lines.line_number());
    }
  }
  if (encoding == TextEncoding::kAuto) {
    bool utf8 = true;
    for (const auto& row : rows) utf8 = utf8 && is_valid_utf8(row.second);
    if (utf8) return rows;
    spdlog::info("{}: not UTF-8, reading titles as Latin-1 (data.encoding = \"utf-8\" would reject it)", path);
    encoding = TextEncoding::kLatin1;
  }
  for (size_t i = 0; i < rows.size(); ++i)
    rows[i].second = decode_text(rows[i].second, encoding, fmt::format("{}:{}", path, line_numbers[i]));
  return rows;
}

void read_ratings(const Layout& layout, RawDataset& raw) {
  const std::string path = layout.ratings.string();
  if (layout.flavour == Flavour::kCsv) {
    CsvReader csv(path);
    std::vector<std::string> fields;
    if (!csv.next(fields)) fail("{}: empty file", path);
    const size_t user_col = column(fields, "userId", path), item_col = column(fields, "movieId", path);
    const size_t rating_col = column(fields, "rating", path), time_col = column(fields, "timestamp", path);
    const size_t needed = std::max({user_col, item_col, rating_col, time_col}) + 1;
    while (csv.next(fields)) {
      const int64_t line = csv.line_number();
      if (fields.size() < needed) fail("{}:{}: expected {} fields, found {}", path, line, needed, fields.size());
      raw.add(fields[user_col], fields[item_col],
              static_cast<float>(parse_double(fields[rating_col], path, line, "rating")),
              parse_double(fields[time_col], path, line, "timestamp"));
    }
    return;
  }
  LineReader lines(path);
  const std::string separator = layout.flavour == Flavour::kDat ? "::" : "\t";
  std::string line;
  while (lines.next(line)) {
    if (line.empty()) continue;
    const int64_t n = lines.line_number();
    const auto fields = split_fields(line, separator);
    if (fields.size() != 4) {
      fail("{}:{}: expected 4 fields (user{}item{}rating{}timestamp), found {}", path, n, separator, separator,
           separator, fields.size());
    }
    raw.add(fields[0], fields[1], static_cast<float>(parse_double(fields[2], path, n, "rating")),
            parse_double(fields[3], path, n, "timestamp"));
  }
}

}  // namespace

std::string clean_movielens_title(std::string_view utf8_title) {
  const std::u32string t = decode_utf8(utf8_title);
  const size_t cut = t.size() > 7 ? t.size() - 7 : 0;
  const std::u32string_view head = std::u32string_view(t).substr(0, cut);
  const std::u32string_view year = std::u32string_view(t).substr(cut);

  // re.sub(r'\(.*?\)', '', head): each "(" up to the nearest ")" on the same line.
  std::u32string title;
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == U'(') {
      size_t j = i + 1;
      while (j < head.size() && head[j] != U')' && head[j] != U'\n') ++j;
      if (j < head.size() && head[j] == U')') {
        i = j;
        continue;
      }
    }
    title += head[i];
  }
  title = python_strip(title);

  std::u32string tail = title.substr(title.size() > 5 ? title.size() - 5 : 0);
  for (auto& c : tail) {
    if (c >= U'A' && c <= U'Z') c = c - U'A' + U'a';
  }
  const bool article = tail.find(U", a") != std::u32string::npos || tail.find(U", an") != std::u32string::npos ||
                       tail.find(U", the") != std::u32string::npos;
  if (article) {
    // title_post + ' ' + ', '.join(title_pre)
    const size_t last = title.rfind(U", ");
    title = title.substr(last + 2) + U" " + title.substr(0, last);
  }
  return encode_utf8(title) + encode_utf8(year);
}

RawDataset import_movielens(const std::string& input, TextEncoding encoding) {
  const Layout layout = detect_layout(input);
  RawDataset raw;
  raw.format = layout.name;
  raw.files = {layout.ratings.string(), layout.movies.string()};
  raw.has_ratings = raw.has_timestamps = true;
  for (const auto& [id, title] : read_movies(layout, encoding)) raw.titles[id] = clean_movielens_title(title);
  read_ratings(layout, raw);
  spdlog::info("{}: {} ({}): {} ratings, {} movies with titles", input, raw.format, layout.ratings.filename().string(),
               raw.interactions.size(), raw.titles.size());
  return raw;
}

}  // namespace llamarec
