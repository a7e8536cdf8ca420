#include "core/content_hash.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "core/error.h"

namespace llamarec {

std::string content_digest(uint64_t hash) { return fmt::format("{:016x}", hash); }

std::string file_digest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot be read to checksum it", path);
  std::vector<char> block(1 << 20);
  uint64_t hash = kContentHashSeed;
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    hash = content_hash(std::string_view(block.data(), static_cast<size_t>(in.gcount())), hash);
  }
  if (in.bad()) fail("{}: read error while checksumming it", path);
  return content_digest(hash);
}

std::string file_sample_digest(const std::string& path, int64_t blocks, int64_t block_bytes) {
  if (blocks < 2 || block_bytes < 1) fail("file_sample_digest: needs 2 or more blocks of 1 or more bytes");
  std::error_code ec;
  const auto size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  if (ec) fail("{}: cannot be read to checksum it ({})", path, ec.message());
  if (size <= blocks * block_bytes) return file_digest(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot be read to checksum it", path);
  uint64_t hash = content_hash(std::to_string(size));
  std::vector<char> block(static_cast<size_t>(block_bytes));
  for (int64_t i = 0; i < blocks; ++i) {
    // From 0 to size − block_bytes, evenly spaced (below 2^63 for files up to petabytes).
    in.seekg((size - block_bytes) * i / (blocks - 1));
    in.read(block.data(), block_bytes);
    if (in.gcount() != block_bytes) fail("{}: read error while checksumming it", path);
    hash = content_hash(std::string_view(block.data(), static_cast<size_t>(block_bytes)), hash);
  }
  return content_digest(hash);
}

}  // namespace llamarec
