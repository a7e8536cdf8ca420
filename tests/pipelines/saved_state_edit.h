// Rewrites state.json of the newest saved training step, for tests of what a state written by an
// earlier release (or damaged) does on resumption.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "pipelines/training/checkpointer.h"

namespace llamarec::testing {

// Applies `edit` to state.json of the newest saved step under `state_dir`.
inline void edit_saved_state(const std::string& state_dir, const std::function<void(nlohmann::json&)>& edit) {
  const auto file = std::filesystem::path(newest_saved_state(state_dir)) / "state.json";
  std::ifstream in(file);
  auto state = nlohmann::json::parse(in);
  in.close();
  edit(state);
  std::ofstream(file) << state.dump(1);
}

}  // namespace llamarec::testing
