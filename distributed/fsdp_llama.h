// FSDP applied to a Llama (torchtitan's "parallelism as a function on a model"): every decoder
// layer is one FsdpUnit, the token embedding + final norm + lm_head form the root unit. Each rank
// holds 1/N of the frozen base weights, read from the checkpoint as only its slices; LoRA A/B are
// the only trainable tensors, replicated on every rank (fp32 masters), so their gradients are
// averaged with one flat all-reduce (DataParallel) by the trainer.
//
// Forward runs each layer through fsdp_checkpointed_call (gather, compute, release; backward
// re-gathers and recomputes), so neither weights nor a layer's inner activations stay resident:
// per rank the step holds the base shards, one gathered unit, and the layer-boundary hidden states.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "distributed/communicator.h"
#include "distributed/fsdp_unit.h"
#include "models/llama_config.h"
#include "models/llama_kv_cache.h"
#include "models/llama_rope.h"
#include "models/lora_config.h"
#include "models/nf4.h"

namespace llamarec {

class ShardedLlama {
 public:
  // Shards allocated (zero) in `dtype` on `device` (the communicator's device for NCCL).
  // `shard` = false replicates the base on every rank (the no-sharding baseline). With
  // `quantization` = nf4 the decoder layers' projection weights are held as NF4 codes (QLoRA); the
  // embedding, the norms and the LM head stay in `dtype`, as in QLoRA.
  ShardedLlama(const LlamaConfig& config, Communicator& comm, torch::Dtype dtype, torch::Device device,
               bool shard = true, WeightQuantization quantization = WeightQuantization::kNone);
  // <model_dir>/config.json + safetensors (single or sharded); each rank reads only its slices.
  static std::unique_ptr<ShardedLlama> load(const std::string& model_dir, Communicator& comm, torch::Dtype dtype,
                                            torch::Device device, bool shard = true,
                                            WeightQuantization quantization = WeightQuantization::kNone);
  // Validates the checkpoint against the config, then fills every unit's shard from it.
  void load_weights(const SafetensorsCheckpoint& checkpoint);

  // LoRA on every decoder layer's target projections, initialised as PEFT does (A kaiming-uniform,
  // B zero) from `seed`, identically on every rank; parameters fp32 on the model's device.
  void apply_lora(const LoraConfig& config, uint64_t seed);
  bool has_lora() const { return !lora_.empty(); }
  const LoraConfig& lora_config() const { return lora_config_; }
  // PEFT names without the "base_model.model." prefix -> tensor (the live parameters).
  std::map<std::string, torch::Tensor> lora_tensors() const;
  // All adapter parameters in a fixed order (layer, target, A then B).
  std::vector<torch::Tensor> lora_parameters() const;
  void save_adapter(const std::string& dir, const std::string& base_model_name_or_path) const;
  // Applies the saved config (if no adapter yet) and loads the weights.
  void load_adapter(const std::string& dir);

  // input_ids / attention_mask [B, L] (left padding; mask may be undefined) -> the last decoder
  // layer's output [B, L, D] (before the final norm). `training` enables LoRA dropout. With a
  // `cache` (inference only, no autograd) the tokens continue the cached ones: the mask then covers
  // cached + new tokens, [B, S + L], and each layer appends its keys and values.
  torch::Tensor forward_hidden(const torch::Tensor& input_ids, const torch::Tensor& attention_mask, bool training,
                               PositionMode positions = PositionMode::kArange, KVCache* cache = nullptr);
  // Final norm + lm_head for chosen rows only: hidden [M, D] -> logits [M, V] in the compute dtype,
  // or [M, |vocab_ids|] in float32 when vocab_ids [C] is given (the verbalizer reads only the
  // candidate letters' rows; bf16 would tie letters: its step is 0.06-0.125 at logits of 10-30).
  torch::Tensor logits(const torch::Tensor& hidden, const torch::Tensor& vocab_ids = {});

  const LlamaConfig& config() const { return config_; }
  Communicator& comm() const { return comm_; }
  torch::Dtype dtype() const { return dtype_; }
  WeightQuantization quantization() const { return quantization_; }
  torch::Device device() const { return device_; }
  // Base-weight bytes held by this rank (all shards, NF4 codes and scales included), and the
  // unsharded total in the compute dtype.
  int64_t resident_base_bytes() const;
  int64_t total_base_bytes() const;
  FsdpStats stats() const;  // summed over units
  // The most bytes of gathered weights alive at once since the last reset_stats(): one unit's
  // buffers without prefetch, two units' with it.
  int64_t peak_gathered_bytes() const { return gathered_memory_->peak; }
  void reset_stats();
  // Prefetch (fsdp.prefetch): each unit's all-gather starts while the unit before it computes (the
  // next layer in forward, the previous one in backward). Collective: set it alike on every rank.
  void set_prefetch(bool prefetch) { prefetch_ = prefetch; }
  bool prefetch() const { return prefetch_; }
  const FsdpUnit& root_unit() const { return *root_; }
  const FsdpUnit& layer_unit(int64_t i) const { return *layers_.at(i); }
  FsdpUnit& layer_unit(int64_t i) { return *layers_.at(i); }

 private:
  struct LoraModule {
    std::string module;  // "q_proj", ...
    torch::Tensor a;     // [r, in]
    torch::Tensor b;     // [out, r]
  };

  LlamaConfig config_;
  Communicator& comm_;
  torch::Dtype dtype_;
  torch::Device device_;
  WeightQuantization quantization_;
  std::unique_ptr<FsdpUnit> root_;  // embed_tokens, norm, lm_head (unless tied)
  std::vector<std::unique_ptr<FsdpUnit>> layers_;
  std::shared_ptr<GatheredMemory> gathered_memory_ = std::make_shared<GatheredMemory>();
  bool prefetch_ = false;
  LoraConfig lora_config_;
  std::vector<std::vector<LoraModule>> lora_;  // [layer][target]
};

}  // namespace llamarec
