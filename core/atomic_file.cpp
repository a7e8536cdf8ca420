#include "core/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

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
    // stdio rather than ofstream: its failures leave errno, so the message says why.
    std::FILE* out = std::fopen(tmp.c_str(), "wb");
    if (out == nullptr) fail("{}: cannot create: {}", tmp, std::strerror(errno));
    const bool written = std::fwrite(contents.data(), 1, contents.size(), out) == contents.size();
    int error = written ? 0 : errno;
    if (std::fclose(out) != 0 && error == 0) error = errno;
    if (!written || error != 0) fail("{}: write failed: {}", tmp, std::strerror(error != 0 ? error : EIO));
  });
}

void commit_directory_atomic(const std::string& dir, const std::function<void(const std::string& new_dir)>& write) {
  namespace fs = std::filesystem;
  const fs::path final_dir(dir), new_dir(dir + ".new"), old_dir(dir + ".old");
  std::error_code ec;
  const auto check = [&](const char* what, const fs::path& p) {
    if (ec) fail("{}: cannot {}: {}", p.string(), what, ec.message());
  };
  fs::remove_all(new_dir, ec);
  check("remove a stale copy", new_dir);
  fs::create_directories(new_dir, ec);
  check("create the directory", new_dir);
  try {
    write(new_dir.string());
  } catch (...) {
    fs::remove_all(new_dir, ec);
    throw;
  }
  fs::remove_all(old_dir, ec);
  check("remove", old_dir);
  if (fs::exists(final_dir)) {
    fs::rename(final_dir, old_dir, ec);
    check("move aside", final_dir);
  }
  fs::rename(new_dir, final_dir, ec);
  check("rename into place", new_dir);
  fs::remove_all(old_dir, ec);
}

}  // namespace llamarec
