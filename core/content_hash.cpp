#include "core/content_hash.h"

#include <fmt/format.h>

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

}  // namespace llamarec
