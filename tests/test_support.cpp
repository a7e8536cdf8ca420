#include "tests/test_support.h"

#include <atomic>
#include <cstdlib>
#include <fstream>

#include <mpi.h>

#include "core/error.h"
#include "core/sequence_dataset_writer.h"

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

std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no llamarec::Error thrown>";
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

bool runs_on_two_ranks(const std::string& suite) {
  const std::string list = std::string(",") + LLAMAREC_NP2_SUITES + ",";
  return list.find("," + suite + ",") != std::string::npos;
}

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

void write_test_dataset(const std::string& path, const std::vector<std::vector<int32_t>>& users, int64_t num_items) {
  SequenceData d;
  d.item_titles.push_back("");
  d.item_raw_ids.push_back("");
  for (int64_t i = 1; i <= num_items; ++i) {
    d.item_titles.push_back("item " + std::to_string(i));
    d.item_raw_ids.push_back(std::to_string(i));
  }
  d.offsets.push_back(0);
  for (size_t u = 0; u < users.size(); ++u) {
    d.user_raw_ids.push_back(std::to_string(u));
    d.items.insert(d.items.end(), users[u].begin(), users[u].end());
    d.offsets.push_back(static_cast<int64_t>(d.items.size()));
  }
  write_sequence_dataset(path, d, {{"source_format", std::string("test")}});
}

}  // namespace llamarec::testing
