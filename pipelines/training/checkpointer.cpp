#include "pipelines/training/checkpointer.h"

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/safetensors.h"

namespace fs = std::filesystem;

namespace llamarec {

Checkpointer::Checkpointer(std::string dir, std::string identity)
    : dir_(std::move(dir)), identity_(std::move(identity)) {}

void Checkpointer::save(const TrainingState& state, const std::map<std::string, torch::Tensor>& tensors,
                        torch::optim::Optimizer& optimizer) const {
  commit_directory_atomic(dir_, [&](const std::string& new_path) {
    const fs::path new_dir(new_path);
    std::map<std::string, torch::Tensor> detached;
    for (const auto& [name, tensor] : tensors) detached[name] = tensor.detach();
    save_safetensors((new_dir / "parameters.safetensors").string(), detached);
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    archive.save_to((new_dir / "optimizer.pt").string());
    auto j = to_json(state);
    j["identity"] = identity_;
    write_file_atomic((new_dir / "state.json").string(), j.dump(1));
  });
}

std::optional<TrainingState> Checkpointer::load(const std::map<std::string, torch::Tensor>& tensors,
                                                torch::optim::Optimizer& optimizer) const {
  const auto saved = read_training_state(dir_, identity_);
  if (!saved) return std::nullopt;
  const fs::path d(saved->dir);
  auto state = training_state_from_json(saved->json, (d / "state.json").string());
  const SafetensorsCheckpoint weights((d / "parameters.safetensors").string());
  {
    torch::NoGradGuard no_grad;
    for (const auto& [name, tensor] : tensors) {
      auto copy = tensor;
      copy.copy_(weights.load(name, tensor.scalar_type()));
    }
  }
  const auto optimizer_path = (d / "optimizer.pt").string();
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(optimizer_path);
    optimizer.load(archive);
  } catch (const c10::Error& e) {
    // LibTorch's message names neither the file nor a way out.
    fail("{}: damaged optimizer state ({}); delete {} to start over", optimizer_path, e.what_without_backtrace(), dir_);
  }
  return state;
}

}  // namespace llamarec
