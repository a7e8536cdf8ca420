// The resumable state of a training run: one directory per saved step under <checkpoint>.state/,
//   step-00000300/  parameters.safetensors  the trainable tensors
//                   optimizer.safetensors   the optimizer's moments and step counts, by parameter name
//                   generators.safetensors  every rank's generator state (dropout), [ranks, bytes]
//                   state.json              the TrainingState (step, curve, loss accumulators, ...)
//                                           and the run identity
// written every checkpoint_interval steps and at every validation, the newest two kept. Together
// with the step (the data position: the epoch's order is a function of the seed) that is everything
// a run depends on, so a resumed run is the uninterrupted one, bit for bit, on the same rank count.
// Each step directory is filled as step-N.new and renamed into place by rank 0, so a crash at any
// moment leaves only complete states under their final names.
#pragma once
#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "distributed/communicator.h"
#include "pipelines/config.h"
#include "pipelines/training/training_state.h"

namespace llamarec {

class Checkpointer {
 public:
  // `identity`: the settings a saved state must have been written with to be resumed, compared as
  // pipelines/config_diff.h says (run_identity.h). `device`: where the model computes, whose
  // generator (with the CPU's) draws its dropout; the communicator's may differ (LRURec on CUDA
  // over MPI).
  Checkpointer(std::string dir, ConfigValues identity, Communicator& comm, torch::Device device, int keep = 2);

  // Collective: every rank contributes its generator state; rank 0 writes.
  void save(const TrainingState& state, const std::map<std::string, torch::Tensor>& tensors,
            torch::optim::Optimizer& optimizer);

  struct Resumed {
    TrainingState state;
    bool generators_restored = false;  // false: saved on another number of ranks (or devices)
    std::string dir;                   // the step directory it came from
  };
  // The newest saved state, copied into `tensors` (by name and shape), `optimizer` and this rank's
  // generators; nullopt when there is none or it belongs to other settings (which the next save
  // then discards). Anything damaged or not matching the model is an error naming the file, the
  // problem and what to delete. Collective: every rank's identity must be rank 0's (compared as
  // identity_differences does) and every rank must resume from the same step, else every rank
  // fails, naming the key, or the steps (a state directory that not all nodes share).
  std::optional<Resumed> load(const std::map<std::string, torch::Tensor>& tensors, torch::optim::Optimizer& optimizer);

  const std::string& dir() const { return dir_; }

 private:
  std::optional<Resumed> load_newest(const std::map<std::string, torch::Tensor>& tensors,
                                     torch::optim::Optimizer& optimizer);

  std::string dir_;
  ConfigValues identity_;
  Communicator& comm_;
  torch::Device device_;
  int keep_;
  bool discard_saved_ = false;  // the saved states are another run's
};

// The newest committed step directory under `dir` (empty when there is none).
std::string newest_saved_state(const std::string& dir);

// Every committed step directory under `dir`, newest first.
std::vector<std::string> saved_states(const std::string& dir);

}  // namespace llamarec
