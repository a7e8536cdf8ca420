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

void commit_directory_atomic(const std::string& dir, const std::function<void(const std::string& new_dir)>& write) {
  namespace fs = std::filesystem;
  const fs::path final_dir(dir), new_dir(dir + ".new"), old_dir(dir + ".old");
  fs::remove_all(new_dir);
  fs::create_directories(new_dir);
  try {
    write(new_dir.string());
  } catch (...) {
    fs::remove_all(new_dir);
    throw;
  }
  fs::remove_all(old_dir);
  if (fs::exists(final_dir)) fs::rename(final_dir, old_dir);
  fs::rename(new_dir, final_dir);
  fs::remove_all(old_dir);
}

}  // namespace llamarec
