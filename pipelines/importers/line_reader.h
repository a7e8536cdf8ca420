// Streams the lines of a plain or gzip-compressed text file (zlib detects which from the content),
// so that multi-gigabyte rating and metadata files are never held in memory whole.
#pragma once
#include <cstdint>
#include <string>

namespace llamarec {

class LineReader {
 public:
  explicit LineReader(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its "\n" / "\r\n" (and without a UTF-8 byte-order mark on line 1);
  // false at the end of the file. Read and decompression errors throw, naming the file.
  bool next(std::string& line);
  // 1-based number of the line last returned.
  int64_t line_number() const { return line_number_; }
  const std::string& path() const { return path_; }

 private:
  bool fill();

  std::string path_;
  void* file_ = nullptr;  // gzFile
  std::string buffer_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  int64_t line_number_ = 0;
};

}  // namespace llamarec
