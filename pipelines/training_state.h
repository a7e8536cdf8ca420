// Reading the resumable state both trainers keep (<checkpoint>.state/, written with
// commit_directory_atomic): its state.json, and whether it was written for the same settings.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace llamarec {

struct SavedTrainingState {
  std::string dir;      // where it was found: `dir` or `<dir>.old`
  nlohmann::json json;  // state.json
};

// nullopt when there is no state, or (with a warning) when its "identity" differs from `identity`.
// A state.json that does not parse is an error naming the file.
std::optional<SavedTrainingState> read_training_state(const std::string& dir, const std::string& identity);

}  // namespace llamarec
