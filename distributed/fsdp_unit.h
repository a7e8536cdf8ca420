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

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "distributed/communicator.h"

namespace llamarec {

struct FsdpStats {
  int64_t gathers = 0;
  int64_t bytes_received = 0;  // bytes the all-gathers returned beyond this rank's own shard
};

// Bytes of gathered weights alive at once (received buffers, dequantized copies) over the units
// that share it: ShardedLlama gives one to all its units, so `peak` is the step's high-water mark.
struct GatheredMemory {
  int64_t current = 0;
  int64_t peak = 0;
  void add(int64_t bytes) {
    current += bytes;
    peak = std::max(peak, current);
  }
};

class FsdpUnit {
 public:
  // `specs`: the unit's tensors in flat-buffer order; `dtype`/`device`: how shards and gathered
  // weights are held (e.g. bf16 on CUDA, fp32 on CPU). `shard` = false replicates the unit on every
  // rank instead (the DDP-style baseline: no gathers, N times the memory). `quantized[i]` (empty:
  // none) holds specs[i] as NF4 codes (models/nf4.h): those tensors form a second flat buffer whose
  // rank slices are whole double-quantization groups, so each rank quantizes its slice alone and
  // gathers codes and scales, dequantizing into `dtype` after the gather.
  FsdpUnit(std::string name, std::vector<TensorSpec> specs, Communicator& comm, torch::Dtype dtype,
           torch::Device device, bool shard = true, std::vector<bool> quantized = {});
  ~FsdpUnit();
  FsdpUnit(const FsdpUnit&) = delete;
  FsdpUnit& operator=(const FsdpUnit&) = delete;

  // Fills this rank's slices: `read(spec, begin, end, dtype)` must return elements [begin, end) of
  // the row-major flattened tensor `spec` (e.g. SafetensorsCheckpoint::load_flat), so that only
  // this rank's bytes are read; `dtype` is the one wanted (the compute dtype, or float32 for values
  // about to be quantized), any floating dtype is converted. Padding is zero.
  using SliceReader =
      std::function<torch::Tensor(const TensorSpec& spec, int64_t begin, int64_t end, torch::Dtype dtype)>;
  void load(const SliceReader& read);

  // Starts this unit's all-gathers and returns while they run (Communicator::all_gather_async), so
  // that they overlap whatever the caller computes next; gather() then only waits for them. No-op
  // when the unit is gathered or already on its way. Collective: ranks prefetch in the same order.
  void prefetch();
  // The full tensors (views into the gathered buffers), in specs order. Valid until release().
  const std::vector<torch::Tensor>& gather();
  // Frees the gathered buffers (a prefetch still in flight is completed first).
  void release();
  bool gathered() const { return !views_.empty(); }
  bool prefetching() const { return dense_.pending.pending() || nf4_.pending.pending(); }
  void set_gathered_memory(std::shared_ptr<GatheredMemory> memory) { memory_ = std::move(memory); }
  bool sharded() const { return sharded_; }

  const std::string& name() const { return name_; }
  const std::vector<TensorSpec>& specs() const { return specs_; }
  int64_t numel() const { return dense_.numel + nf4_.numel; }  // real elements
  int64_t quantized_numel() const { return nf4_.numel; }
  // Values held on this rank, padding included (dense and quantized).
  int64_t shard_numel() const { return dense_.shard_numel + nf4_.shard_numel; }
  int64_t resident_bytes() const;  // this rank's shards (codes and scales for the quantized part)
  // What one gather moves: every rank's shards as they travel (packed codes for the quantized
  // part; its dequantized buffer in the compute dtype is allocated besides).
  int64_t gathered_bytes() const;
  const FsdpStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }
  Communicator& comm() const { return comm_; }

 private:
  // One flat buffer of some of the unit's tensors, 1/N of it per rank.
  struct Part {
    std::vector<size_t> members;   // indices into specs_
    std::vector<int64_t> offsets;  // flat offset of each member within the part
    int64_t numel = 0;             // real elements
    int64_t shard_numel = 0;       // elements per rank, padding included
    torch::Tensor shard;           // dense: [shard_numel] in dtype; nf4: uint8 [nf4_packed_bytes(shard_numel)]
    torch::Tensor received;        // every rank's shard as the all-gather delivers it ([ranks * shard.numel()])
    PendingCollective pending;     // the all-gather into `received`, while in flight
    torch::Tensor full;            // [ranks * shard_numel] in dtype while gathered
  };
  int64_t ranks() const { return sharded_ ? comm_.size() : 1; }
  torch::Tensor read_slice(const Part& part, const SliceReader& read, torch::Dtype dtype) const;
  void start_gather();
  void finish_gather();
  void hold(int64_t bytes);

  std::string name_;
  std::vector<TensorSpec> specs_;
  Communicator& comm_;
  torch::Dtype dtype_;
  bool sharded_ = true;
  Part dense_;
  Part nf4_;
  std::vector<torch::Tensor> views_;
  FsdpStats stats_;
  std::shared_ptr<GatheredMemory> memory_;
  int64_t held_bytes_ = 0;  // this unit's share of memory_->current
};

// A unit's computation: output = fn(gathered weights, input, trainable). `trainable` are tensors
// that require grad (e.g. the unit's LoRA A/B); the weights are frozen.
using UnitComputation =
    std::function<torch::Tensor(const std::vector<torch::Tensor>& weights, const torch::Tensor& input,
                                const std::vector<torch::Tensor>& trainable)>;

// The units that run next, whose gathers start as soon as this unit is gathered, so that they move
// while this unit computes (at most two units gathered at once): `forward` after this unit's
// forward, `backward` after its backward. Null: none.
struct FsdpPrefetch {
  FsdpUnit* forward = nullptr;
  FsdpUnit* backward = nullptr;
};

// Runs `fn` on `unit` with gather/release around forward and around the recomputing backward.
// Without grad mode (evaluation) it is one gathered, released forward. `fn` must be deterministic
// given the generator state, and everything it captures must outlive the backward pass.
torch::Tensor fsdp_checkpointed_call(FsdpUnit& unit, UnitComputation fn, const torch::Tensor& input,
                                     const std::vector<torch::Tensor>& trainable, FsdpPrefetch prefetch = {});

}  // namespace llamarec
