// Helpers shared by all test binaries.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace llamarec::testing {

// ../shared next to the checkout (or $LLAMAREC_SHARED_DIR); nullopt when absent.
std::optional<std::filesystem::path> shared_dir();

// A fresh empty directory under the build tree, unique per test and rank; removed by the caller's
// TempDir destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The message of the llamarec::Error that `call` throws, or "<no llamarec::Error thrown>".
std::string error_of(const std::function<void()>& call);

// Writes `text` to `path` (creating parent directories).
void write_text(const std::filesystem::path& path, const std::string& text);

// A dataset.h5 with one user per sequence (item ids as given) and titles "item N" for 1..num_items.
void write_test_dataset(const std::string& path, const std::vector<std::vector<int32_t>>& users, int64_t num_items);

// Whether `suite` runs under mpirun -np 2 (LLAMAREC_NP2_SUITES_<area> in tests/CMakeLists.txt).
bool runs_on_two_ranks(const std::string& suite);

// MPI world facts as seen by the test main.
int world_rank();
int world_size();

}  // namespace llamarec::testing

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "missing '" << (needle) << "' in: " << (haystack)

// Skip (not fail) a test that needs ../shared/<relative> when it is absent.
#define LLAMAREC_REQUIRE_SHARED(relative)                                    \
  auto shared_root_ = ::llamarec::testing::shared_dir();                     \
  if (!shared_root_ || !std::filesystem::exists(*shared_root_ / (relative))) \
    GTEST_SKIP() << "../shared/" << (relative) << " not present";            \
  const std::filesystem::path shared_path = *shared_root_ / (relative)

// Skip a test that loads a SentencePiece model in an AddressSanitizer build: ASan cannot load our
// SentencePiece plugin with RTLD_DEEPBIND (google/sanitizers#611), and without it libsentencepiece
// meets LibTorch's protobuf of another version (core/tokenizer.cpp).
#if defined(__SANITIZE_ADDRESS__)
#define LLAMAREC_REQUIRE_SENTENCEPIECE() GTEST_SKIP() << "loads a SentencePiece model: not under AddressSanitizer"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LLAMAREC_REQUIRE_SENTENCEPIECE() GTEST_SKIP() << "loads a SentencePiece model: not under AddressSanitizer"
#endif
#endif
#ifndef LLAMAREC_REQUIRE_SENTENCEPIECE
#define LLAMAREC_REQUIRE_SENTENCEPIECE() (void)0
#endif

// Skip a test that needs at least `n` ranks; at 1 rank, fail it instead when its suite is not one
// of those run under mpirun -np 2 (it would otherwise never run anywhere).
#define LLAMAREC_REQUIRE_WORLD(n)                                                                          \
  if (::llamarec::testing::world_size() < (n)) {                                                           \
    const std::string suite_ = ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name(); \
    if (!::llamarec::testing::runs_on_two_ranks(suite_))                                                   \
      FAIL() << suite_ << " needs " << (n) << " ranks but is not in LLAMAREC_NP2_SUITES_* of "             \
             << "tests/CMakeLists.txt, so it never runs on more than one";                                 \
    GTEST_SKIP() << "needs " << (n) << " MPI ranks (run under mpirun -np " << (n) << ")";                  \
  }
