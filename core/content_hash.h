// A stable 64-bit content hash (FNV-1a): the same bytes give the same digest on every machine and
// in every release, unlike std::hash. For fingerprints (what a built-in model or a run was made
// from), not for security.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace llamarec {

inline constexpr uint64_t kContentHashSeed = 0xcbf29ce484222325ULL;

// Continues `hash` over `bytes`.
inline uint64_t content_hash(std::string_view bytes, uint64_t hash = kContentHashSeed) {
  for (const unsigned char c : bytes) hash = (hash ^ c) * 0x100000001b3ULL;
  return hash;
}

// 16 hex digits.
std::string content_digest(uint64_t hash);

// The digest of a file's bytes, read in blocks; fails naming the file when it cannot be read.
std::string file_digest(const std::string& path);

// The digest of a file's size and of `blocks` blocks of `block_bytes` at evenly spaced offsets (the
// first at the start, the last at the end; the whole file when it is no larger than that): for
// files too large to read at every start, such as a 7B model's shards. Content only, unlike an mtime,
// so a copy staged to node-local scratch matches its original; two different checkpoints of one
// architecture differ in every block.
std::string file_sample_digest(const std::string& path, int64_t blocks = 64, int64_t block_bytes = int64_t{1} << 18);

}  // namespace llamarec
