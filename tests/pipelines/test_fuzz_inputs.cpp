// Every input kept for the fuzz targets (seeds in tests/fuzz/corpus/, inputs that once crashed in
// tests/fuzz/regressions/) replayed through the same entry points as libFuzzer runs them: each
// parser rejects bad input with a llamarec::Error and never anything worse.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/fuzz/fuzz_inputs.h"

namespace llamarec {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> kept_inputs(const std::string& target) {
  std::vector<fs::path> out;
  for (const char* kind : {"corpus", "regressions"}) {
    const auto dir = fs::path(LLAMAREC_SOURCE_DIR) / "tests" / "fuzz" / kind / target;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_regular_file()) out.push_back(e.path());
    }
  }
  return out;
}

TEST(FuzzInputs, EveryKeptInputIsRejectedCleanlyOrAccepted) {
  for (const auto& target : fuzz_targets()) {
    const auto inputs = kept_inputs(target.name);
    EXPECT_FALSE(inputs.empty()) << "no seed input for fuzz target " << target.name;
    for (const auto& path : inputs) {
      std::ifstream in(path, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_NO_THROW(target.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())) << path;
    }
  }
}

}  // namespace
}  // namespace llamarec
