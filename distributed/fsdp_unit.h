// FSDP-style sharding of frozen weights (ZeRO-3 for a frozen base): the tensors of one unit (a
// decoder layer, or the embeddings + final norm + lm_head) live as one flat buffer padded to a
// multiple of the world size, and each rank keeps only its 1/N slice. gather() all-gathers the
// full buffer for the moment the unit runs; release() frees it again.
//
// fsdp_checkpointed_call() runs a unit's computation so that nothing of it stays resident between
// forward and backward: forward gathers, computes without autograd, releases; backward re-gathers,
// recomputes the forward with autograd (activation checkpointing in the same mechanism), takes the
// gradients of the input and the trainable tensors, and releases. Dropout draws are replayed by
// saving and restoring the generator state, as torch.utils.checkpoint does.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "distributed/communicator.h"

namespace llamarec {

struct FsdpStats {
  int64_t gathers = 0;
  int64_t bytes_received = 0;  // all-gather bytes that came from other ranks ((N-1)/N of each gather)
};

class FsdpUnit {
 public:
  // `specs`: the unit's tensors in flat-buffer order; `dtype`/`device`: how shards and gathered
  // weights are held (e.g. bf16 on CUDA, fp32 on CPU). `shard` = false replicates the unit on every
  // rank instead (the DDP-style baseline: no gathers, N times the memory).
  FsdpUnit(std::string name, std::vector<TensorSpec> specs, Communicator& comm, torch::Dtype dtype,
           torch::Device device, bool shard = true);

  // Fills this rank's slice: `read(spec, begin, end)` must return elements [begin, end) of the
  // row-major flattened tensor `spec` (any dtype; e.g. SafetensorsCheckpoint::load_flat), so that
  // only this rank's bytes are read. Padding is zero.
  using SliceReader = std::function<torch::Tensor(const TensorSpec& spec, int64_t begin, int64_t end)>;
  void load(const SliceReader& read);

  // The full tensors (views into one gathered buffer), in specs order. Valid until release().
  const std::vector<torch::Tensor>& gather();
  void release();
  bool gathered() const { return full_.defined(); }
  bool sharded() const { return sharded_; }

  const std::string& name() const { return name_; }
  const std::vector<TensorSpec>& specs() const { return specs_; }
  int64_t numel() const { return numel_; }  // real elements
  int64_t padded_numel() const { return sharded_ ? shard_numel_ * comm_.size() : shard_numel_; }
  int64_t shard_numel() const { return shard_numel_; }  // resident on this rank
  int64_t resident_bytes() const { return shard_.numel() * shard_.element_size(); }
  const torch::Tensor& shard() const { return shard_; }
  const FsdpStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }
  Communicator& comm() const { return comm_; }

 private:
  std::string name_;
  std::vector<TensorSpec> specs_;
  std::vector<int64_t> offsets_;  // flat offset of each spec
  Communicator& comm_;
  bool sharded_ = true;
  int64_t numel_ = 0;
  int64_t shard_numel_ = 0;
  torch::Tensor shard_;  // [shard_numel]
  torch::Tensor full_;   // [padded_numel] while gathered
  std::vector<torch::Tensor> views_;
  FsdpStats stats_;
};

// A unit's computation: output = fn(gathered weights, input, trainable). `trainable` are tensors
// that require grad (e.g. the unit's LoRA A/B); the weights are frozen.
using UnitComputation =
    std::function<torch::Tensor(const std::vector<torch::Tensor>& weights, const torch::Tensor& input,
                                const std::vector<torch::Tensor>& trainable)>;

// Runs `fn` on `unit` with gather/release around forward and around the recomputing backward.
// Without grad mode (evaluation) it is one gathered, released forward. `fn` must be deterministic
// given the generator state, and everything it captures must outlive the backward pass.
torch::Tensor fsdp_checkpointed_call(FsdpUnit& unit, UnitComputation fn, const torch::Tensor& input,
                                     const std::vector<torch::Tensor>& trainable);

}  // namespace llamarec
