#include "pipelines/importers/line_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace llamarec {
namespace {
constexpr size_t kChunk = 1 << 20;
}

LineReader::LineReader(const std::string& path) : path_(path), buffer_(kChunk, '\0') {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("{}: no such file", path);
  if (std::filesystem::is_directory(path, ec)) fail("{}: is a directory, expected a file", path);
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) fail("{}: cannot open: {}", path, errno ? std::strerror(errno) : "out of memory");
  gzbuffer(file, 1 << 18);
  file_ = file;
}

LineReader::~LineReader() {
  if (file_) gzclose(static_cast<gzFile>(file_));
}

bool LineReader::fill() {
  if (eof_) return false;
  auto* file = static_cast<gzFile>(file_);
  const int n = gzread(file, buffer_.data(), static_cast<unsigned>(buffer_.size()));
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  if (n < 0 || (code != Z_OK && code != Z_STREAM_END)) {
    fail("{}: read error after line {}: {}", path_, line_number_, message ? message : "unknown zlib error");
  }
  pos_ = 0;
  end_ = static_cast<size_t>(n);
  if (n == 0) eof_ = true;
  return n > 0;
}

bool LineReader::next(std::string& line) {
  line.clear();
  bool got_any = false;
  while (true) {
    if (pos_ == end_ && !fill()) {
      if (!got_any) return false;
      break;
    }
    got_any = true;
    const char* start = buffer_.data() + pos_;
    const void* newline = std::memchr(start, '\n', end_ - pos_);
    if (newline) {
      const size_t len = static_cast<const char*>(newline) - start;
      line.append(start, len);
      pos_ += len + 1;
      break;
    }
    line.append(start, end_ - pos_);
    pos_ = end_;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  ++line_number_;
  if (line_number_ == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
  return true;
}

}  // namespace llamarec
