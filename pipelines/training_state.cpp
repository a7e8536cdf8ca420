#include "pipelines/training_state.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace llamarec {

std::optional<SavedTrainingState> read_training_state(const std::string& dir, const std::string& identity) {
  const auto found = committed_directory(dir, "state.json");
  if (found.empty()) return std::nullopt;
  const auto path = (std::filesystem::path(found) / "state.json").string();
  SavedTrainingState state{found, {}};
  try {
    std::ifstream in(path);
    state.json = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    fail("{}: corrupt training state ({}); delete it to start over", path, e.what());
  }
  if (state.json.value("identity", "") != identity) {
    spdlog::warn("{}: saved training state is for other settings; starting from scratch", found);
    return std::nullopt;
  }
  return state;
}

}  // namespace llamarec
