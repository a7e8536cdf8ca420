#include "core/atomic_file.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace llamarec {

void commit_file_atomic(const std::string& path, const std::function<void(const std::string&)>& write) {
  const std::filesystem::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) {
    std::filesystem::create_directories(target.parent_path(), ec);
    if (ec) fail("{}: cannot create directory {}: {}", path, target.parent_path().string(), ec.message());
  }
  const std::string tmp = path + ".tmp";
  try {
    write(tmp);
    std::filesystem::rename(tmp, target, ec);
    if (ec) fail("{}: cannot rename {} into place: {}", path, tmp, ec.message());
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    throw;
  }
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  commit_file_atomic(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot open for writing", tmp);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (!out) fail("{}: write failed (disk full?)", tmp);
  });
}

}  // namespace llamarec
