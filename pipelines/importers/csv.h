// Delimited text records: RFC 4180 CSV (quoted fields, "" escapes, quoted line breaks), simple
// separator splitting ("::", "\t", "|"), and number parsing whose errors name file and line.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pipelines/importers/line_reader.h"

namespace llamarec {

class CsvReader {
 public:
  explicit CsvReader(const std::string& path, char separator = ',');

  // The next non-empty record's fields (quotes removed); false at the end of the file. A quoted
  // field may span lines. Throws, naming file and line, for text after a closing quote or a quote
  // left open at the end of the file.
  bool next(std::vector<std::string>& fields);
  // Line on which the last returned record starts.
  int64_t line_number() const { return record_line_; }
  const std::string& path() const { return lines_.path(); }

 private:
  LineReader lines_;
  char separator_;
  std::string line_;
  int64_t record_line_ = 0;
};

// Splits on every occurrence of `separator` (no quoting).
std::vector<std::string_view> split_fields(std::string_view line, std::string_view separator);

// Parse a whole field (surrounding spaces allowed) or throw "<path>:<line>: <what> ... is not ...".
int64_t parse_int64(std::string_view text, const std::string& path, int64_t line, const char* what);
double parse_double(std::string_view text, const std::string& path, int64_t line, const char* what);

}  // namespace llamarec
