// The resumable state of a training run, <checkpoint>.state/: the trainable tensors
// (parameters.safetensors), the optimizer (optimizer.pt, LibTorch's archive), and state.json (the
// TrainingState and the run identity). Written by rank 0 through commit_directory_atomic, so that
// a crash leaves the old or the new state complete, never a mix.
#pragma once
#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>

#include "pipelines/training/training_state.h"

namespace llamarec {

class Checkpointer {
 public:
  // `identity`: the settings a saved state must have been written with to be resumed.
  Checkpointer(std::string dir, std::string identity);

  void save(const TrainingState& state, const std::map<std::string, torch::Tensor>& tensors,
            torch::optim::Optimizer& optimizer) const;
  // Copies a saved state into `tensors` (by name, which must all be present) and `optimizer`;
  // nullopt when there is none or it belongs to other settings. Damaged files are errors naming
  // the file.
  std::optional<TrainingState> load(const std::map<std::string, torch::Tensor>& tensors,
                                    torch::optim::Optimizer& optimizer) const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string identity_;
};

}  // namespace llamarec
