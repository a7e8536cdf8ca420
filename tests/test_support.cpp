#include "tests/test_support.h"

#include <atomic>
#include <cstdlib>
#include <fstream>

#include <mpi.h>

namespace llamarec::testing {

std::optional<std::filesystem::path> shared_dir() {
  if (const char* env = std::getenv("LLAMAREC_SHARED_DIR")) {
    if (std::filesystem::is_directory(env)) return std::filesystem::path(env);
    return std::nullopt;
  }
  const auto candidate = std::filesystem::path(LLAMAREC_SOURCE_DIR).parent_path() / "shared";
  if (std::filesystem::is_directory(candidate)) return candidate;
  return std::nullopt;
}

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "tmp";
  for (auto& c : name) {
    if (c == '/') c = '_';
  }
  path_ = std::filesystem::path(LLAMAREC_BINARY_DIR) / "test_tmp" /
          (name + ".r" + std::to_string(world_rank()) + "." + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

namespace {
bool mpi_up() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}
}  // namespace

int world_rank() {
  int rank = 0;
  if (mpi_up()) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  int size = 1;
  if (mpi_up()) MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

}  // namespace llamarec::testing
