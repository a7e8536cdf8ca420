#include "pipelines/importers/csv.h"

#include <charconv>

#include "core/error.h"

namespace llamarec {
namespace {

std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

CsvReader::CsvReader(const std::string& path, char separator) : lines_(path), separator_(separator) {}

bool CsvReader::next(std::vector<std::string>& fields) {
  fields.clear();
  do {
    if (!lines_.next(line_)) return false;
  } while (line_.empty());
  record_line_ = lines_.line_number();

  std::string field;
  size_t i = 0;
  while (true) {
    field.clear();
    if (i < line_.size() && line_[i] == '"') {
      ++i;
      while (true) {
        if (i == line_.size()) {
          // The quoted field continues on the next line.
          if (!lines_.next(line_)) {
            fail("{}:{}: quoted field opened here is never closed", path(), record_line_);
          }
          field += '\n';
          i = 0;
          continue;
        }
        if (line_[i] == '"') {
          if (i + 1 < line_.size() && line_[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += line_[i++];
      }
      if (i < line_.size() && line_[i] != separator_) {
        fail("{}:{}: unexpected text after a closing quote in field {}: '{}'", path(), lines_.line_number(),
             fields.size() + 1, line_.substr(i, 20));
      }
    } else {
      const size_t end = line_.find(separator_, i);
      field.assign(line_, i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? line_.size() : end;
    }
    fields.push_back(field);
    if (i >= line_.size()) break;
    ++i;  // the separator
    if (i == line_.size()) {
      fields.emplace_back();  // a trailing separator ends with an empty field
      break;
    }
  }
  return true;
}

std::vector<std::string_view> split_fields(std::string_view line, std::string_view separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t end = line.find(separator, start);
    if (end == std::string_view::npos) {
      out.push_back(line.substr(start));
      return out;
    }
    out.push_back(line.substr(start, end - start));
    start = end + separator.size();
  }
}

int64_t parse_int64(std::string_view text, const std::string& path, int64_t line, const char* what) {
  const std::string_view t = trim_spaces(text);
  const char* begin = t.data() + (!t.empty() && t.front() == '+' ? 1 : 0);
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(begin, t.data() + t.size(), value);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size()) {
    fail("{}:{}: {} '{}' is not an integer", path, line, what, text);
  }
  return value;
}

double parse_double(std::string_view text, const std::string& path, int64_t line, const char* what) {
  const std::string_view t = trim_spaces(text);
  const char* begin = t.data() + (!t.empty() && t.front() == '+' ? 1 : 0);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(begin, t.data() + t.size(), value);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size()) {
    fail("{}:{}: {} '{}' is not a number", path, line, what, text);
  }
  return value;
}

}  // namespace llamarec
