#include "core/atomic_file.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace llamarec {

void commit_file_atomic(const std::string& path, const std::function<void(const std::string&)>& write) {
  const std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path());
  const std::string tmp = path + ".tmp";
  try {
    write(tmp);
    std::filesystem::rename(tmp, target);
  } catch (...) {
    std::error_code ec;
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
