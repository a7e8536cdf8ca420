// A synthetic dataset.h5 for the pipeline tests (the preprocess stage's own generator).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace llamarec::testing {

// Writes it to `path` and returns the path.
std::string make_synthetic_dataset(const std::filesystem::path& path, int64_t users, int64_t items, int64_t min_length,
                                   int64_t max_length);

}  // namespace llamarec::testing
