// The content digests that fingerprint a run's inputs (pipelines/input_files.h): the whole-file
// digest and the sampled one for files too large to read at every start.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "core/content_hash.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

namespace fs = std::filesystem;
using ::llamarec::testing::TempDir;

std::string random_bytes(size_t n) {
  std::mt19937 gen(7);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// 4 blocks of 100 bytes of a 10,000-byte file: offsets 0, 3300, 6600 and 9900.
TEST(ContentHash, SampledDigestFollowsTheSampledBytesAndTheSizeNotTheFileTimes) {
  TempDir tmp;
  const auto bytes = random_bytes(10000);
  const auto path = tmp / "big.bin";
  write_bytes(path, bytes);
  const auto digest = file_sample_digest(path.string(), 4, 100);
  EXPECT_EQ(digest.size(), 16u);
  EXPECT_NE(digest, file_digest(path.string()));

  // A copy with another modification time (a job staging its inputs to local scratch) is the same input.
  const auto copy = tmp / "copy.bin";
  fs::copy_file(path, copy);
  fs::last_write_time(copy, fs::last_write_time(path) - std::chrono::hours(30));
  EXPECT_EQ(file_sample_digest(copy.string(), 4, 100), digest);

  for (const size_t offset : {size_t{0}, size_t{3350}, size_t{6699}, size_t{9999}}) {
    auto changed = bytes;
    changed[offset] = static_cast<char>(changed[offset] ^ 1);
    write_bytes(copy, changed);
    EXPECT_NE(file_sample_digest(copy.string(), 4, 100), digest) << "byte " << offset;
  }
  // Between the blocks it does not look: that is what sampling gives up.
  auto between = bytes;
  between[5000] = static_cast<char>(between[5000] ^ 1);
  write_bytes(copy, between);
  EXPECT_EQ(file_sample_digest(copy.string(), 4, 100), digest);
  // One more byte moves every block but the first, and changes the size.
  write_bytes(copy, bytes + "x");
  EXPECT_NE(file_sample_digest(copy.string(), 4, 100), digest);
}

TEST(ContentHash, SampledDigestOfASmallFileIsItsWholeDigest) {
  TempDir tmp;
  const auto path = tmp / "small.bin";
  write_bytes(path, random_bytes(400));
  EXPECT_EQ(file_sample_digest(path.string(), 4, 100), file_digest(path.string()));
  write_bytes(path, "");
  EXPECT_EQ(file_sample_digest(path.string(), 4, 100), content_digest(kContentHashSeed));
  EXPECT_CONTAINS(testing::error_of([&] { file_sample_digest((tmp / "missing.bin").string()); }), "missing.bin");
  EXPECT_CONTAINS(testing::error_of([&] { file_sample_digest(path.string(), 1, 100); }), "2 or more blocks");
}

}  // namespace
}  // namespace llamarec
