#include "distributed/fsdp_llama.h"

#include <spdlog/spdlog.h>

#include <ATen/CPUGeneratorImpl.h>
#include <cmath>
#include <set>

#include "core/error.h"
#include "core/profile_scope.h"
#include "models/llama_attention.h"
#include "models/llama_decoder_layer.h"
#include "models/llama_model.h"
#include "models/llama_rmsnorm.h"
#include "models/lora_linear.h"
#include "models/peft_adapter.h"

namespace llamarec {

namespace {

std::vector<TensorSpec> root_specs(const LlamaConfig& c) {
  std::vector<TensorSpec> specs = {{"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}},
                                   {"model.norm.weight", {c.hidden_size}}};
  if (!c.tie_word_embeddings) specs.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}});
  return specs;
}

std::vector<TensorSpec> layer_specs(const LlamaConfig& c, int64_t layer) {
  auto specs = llama_layer_tensor_specs(c);
  for (auto& spec : specs) spec.name = "model.layers." + std::to_string(layer) + "." + spec.name;
  return specs;
}

}  // namespace

ShardedLlama::ShardedLlama(const LlamaConfig& config, Communicator& comm, torch::Dtype dtype, torch::Device device,
                           bool shard, WeightQuantization quantization)
    : config_(config), comm_(comm), dtype_(dtype), device_(device), quantization_(quantization) {
  if (device.type() != comm.device().type())
    fail("sharded Llama on {} but the {} communicator moves {} tensors", device.str(), comm.backend(),
         comm.device().str());
  root_ = std::make_unique<FsdpUnit>("root", root_specs(config), comm, dtype, device, shard);
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    auto specs = layer_specs(config, i);
    // QLoRA quantizes the linear layers' weights (the 2-D tensors); the norms stay as they are.
    std::vector<bool> quantized;
    if (quantization == WeightQuantization::kNf4)
      for (const auto& spec : specs) quantized.push_back(spec.shape.size() == 2);
    layers_.push_back(std::make_unique<FsdpUnit>("layer " + std::to_string(i), std::move(specs), comm, dtype, device,
                                                 shard, std::move(quantized)));
  }
  root_->set_gathered_memory(gathered_memory_);
  for (auto& layer : layers_) layer->set_gathered_memory(gathered_memory_);
}

std::unique_ptr<ShardedLlama> ShardedLlama::load(const std::string& model_dir, Communicator& comm, torch::Dtype dtype,
                                                 torch::Device device, bool shard, WeightQuantization quantization) {
  auto model = std::make_unique<ShardedLlama>(load_llama_config(model_dir), comm, dtype, device, shard, quantization);
  SafetensorsCheckpoint checkpoint(model_dir);
  model->load_weights(checkpoint);
  spdlog::info(
      "loaded {} sharded over {} ranks: {:.1f}M parameters, {:.1f} MiB of {:.1f} MiB base weights on this rank "
      "({}{})",
      model_dir, comm.size(), llama_parameter_count(model->config()) / 1e6, model->resident_base_bytes() / 1048576.0,
      model->total_base_bytes() / 1048576.0, c10::toString(dtype),
      quantization == WeightQuantization::kNf4 ? ", projections in NF4" : "");
  return model;
}

void ShardedLlama::load_weights(const SafetensorsCheckpoint& checkpoint) {
  validate_checkpoint(checkpoint, llama_tensor_specs(config_), [](const std::string& name) {
    return name.size() >= 20 && name.compare(name.size() - 20, 20, "rotary_emb.inv_freq") == 0;
  });
  const auto read = [&](const TensorSpec& spec, int64_t begin, int64_t end, torch::Dtype dtype) {
    return checkpoint.load_flat(spec.name, begin, end, dtype);
  };
  root_->load(read);
  for (auto& layer : layers_) layer->load(read);
}

void ShardedLlama::apply_lora(const LoraConfig& config, uint64_t seed) {
  validate_lora_config(config);
  if (has_lora()) fail("sharded Llama already carries LoRA adapters");
  lora_config_ = config;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::map<std::string, std::vector<int64_t>> shapes;  // "q_proj" -> [out, in]
  for (const auto& spec : llama_tensor_specs(config_)) shapes[spec.name] = spec.shape;
  lora_.assign(config_.num_hidden_layers, {});
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    for (const auto& module : config.target_modules) {
      const auto& shape = shapes.at(llama_projection_path(i, module) + ".weight");
      auto w = init_lora_weights(shape[0], shape[1], config.r, generator, device_);
      lora_[i].push_back({module, w.a.requires_grad_(true), w.b.requires_grad_(true)});
    }
  }
}

std::map<std::string, torch::Tensor> ShardedLlama::lora_tensors() const {
  std::map<std::string, torch::Tensor> out;
  for (size_t i = 0; i < lora_.size(); ++i) {
    for (const auto& m : lora_[i]) {
      const auto path = llama_projection_path(static_cast<int64_t>(i), m.module);
      out[path + ".lora_A.weight"] = m.a;
      out[path + ".lora_B.weight"] = m.b;
    }
  }
  return out;
}

std::vector<torch::Tensor> ShardedLlama::lora_parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& layer : lora_) {
    for (const auto& m : layer) {
      out.push_back(m.a);
      out.push_back(m.b);
    }
  }
  return out;
}

void ShardedLlama::save_adapter(const std::string& dir, const std::string& base_model_name_or_path) const {
  if (!has_lora()) fail("sharded Llama has no LoRA adapter to save");
  save_peft_adapter_tensors(dir, lora_tensors(), lora_config_, base_model_name_or_path);
}

void ShardedLlama::load_adapter(const std::string& dir) {
  const auto config = load_peft_config(dir);
  if (!has_lora()) {
    apply_lora(config, 0);
  } else if (config.r != lora_config_.r || config.alpha != lora_config_.alpha ||
             // PEFT writes target_modules from a set, in any order.
             std::set<std::string>(config.target_modules.begin(), config.target_modules.end()) !=
                 std::set<std::string>(lora_config_.target_modules.begin(), lora_config_.target_modules.end())) {
    fail("{}: adapter (r {}, alpha {}) does not match the model's adapters (r {}, alpha {})", dir, config.r,
         config.alpha, lora_config_.r, lora_config_.alpha);
  }
  auto tensors = lora_tensors();
  load_peft_adapter_tensors(dir, tensors);
}

torch::Tensor ShardedLlama::forward_hidden(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                           bool training, PositionMode positions, KVCache* cache) {
  if (input_ids.dim() != 2) fail("input_ids must be [batch, length], got [{}]", fmt::join(input_ids.sizes(), "x"));
  // Recompute in backward would append to the cache a second time.
  if (cache != nullptr && torch::GradMode::is_enabled()) fail("ShardedLlama: a KV cache is for inference only");
  const int64_t batch = input_ids.size(0), length = input_ids.size(1);
  const int64_t past = cache != nullptr ? cache->length() : 0;
  const auto ids = input_ids.to(device_);
  const auto mask = attention_mask.defined() ? attention_mask.to(device_) : attention_mask;
  // Forward runs root, layer 0 .. N-1, root (the head); backward the reverse.
  const auto unit_after = [this](size_t i) -> FsdpUnit* {
    if (!prefetch_) return nullptr;
    return i + 1 < layers_.size() ? layers_[i + 1].get() : root_.get();
  };
  const auto unit_before = [this](size_t i) -> FsdpUnit* {
    return prefetch_ && i > 0 ? layers_[i - 1].get() : nullptr;
  };
  FsdpPrefetch embedding_prefetch;
  if (prefetch_ && !layers_.empty()) embedding_prefetch.forward = layers_.front().get();
  // The embedding is frozen and its input is ids: no recompute needed, one gather.
  auto hidden = fsdp_checkpointed_call(
      *root_,
      [](const std::vector<torch::Tensor>& w, const torch::Tensor& x, const std::vector<torch::Tensor>&) {
        const ProfileScope profile("llama.embedding");
        return torch::embedding(w[0], x);
      },
      ids, {}, embedding_prefetch);  // [B, L, D]
  // Shared by every layer's forward and recompute; the closures keep it alive until backward.
  auto context = std::make_shared<LayerContext>(
      make_layer_context(config_, mask, {}, positions, batch, past, length, dtype_, device_, cache, training));
  const double scaling = has_lora() ? lora_config_.scaling() : 0.0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    std::vector<torch::Tensor> trainable;
    std::vector<std::string> modules;
    if (has_lora()) {
      for (const auto& m : lora_[i]) {
        trainable.push_back(m.a);
        trainable.push_back(m.b);
        modules.push_back(m.module);
      }
    }
    const double dropout = lora_config_.dropout;
    auto fn = [context, i, modules, scaling, dropout](const std::vector<torch::Tensor>& w, const torch::Tensor& x,
                                                      const std::vector<torch::Tensor>& lora) {
      LayerWeights weights;
      auto slots = weights.base_tensors();
      for (size_t k = 0; k < slots.size(); ++k) *slots[k].second = w[k];
      for (size_t m = 0; m < modules.size(); ++m) {
        auto* linear = weights.linear(modules[m]);
        linear->lora_a = lora[2 * m];
        linear->lora_b = lora[2 * m + 1];
        linear->lora_scaling = scaling;
        linear->lora_dropout = dropout;
      }
      LayerContext ctx = *context;
      ctx.layer_index = static_cast<int64_t>(i);
      return decoder_layer_forward(weights, x, ctx);
    };
    hidden = fsdp_checkpointed_call(*layers_[i], fn, hidden, trainable, {unit_after(i), unit_before(i)});
  }
  return hidden;
}

torch::Tensor ShardedLlama::logits(const torch::Tensor& hidden, const torch::Tensor& vocab_ids) {
  const bool tied = config_.tie_word_embeddings;
  const double eps = config_.rms_norm_eps;
  const auto ids = vocab_ids.defined() ? vocab_ids.to(device_) : vocab_ids;
  auto fn = [tied, eps, ids](const std::vector<torch::Tensor>& w, const torch::Tensor& h,
                             const std::vector<torch::Tensor>&) {
    const ProfileScope profile("llama.head");
    auto head = tied ? w[0] : w[2];  // [V, D]
    if (!ids.defined()) return torch::linear(rms_norm(h, w[1], eps), head);
    return torch::linear(rms_norm(h, w[1], eps).to(torch::kFloat32), head.index_select(0, ids).to(torch::kFloat32));
  };
  FsdpPrefetch prefetch;  // the head's backward is followed by the last layer's
  if (prefetch_ && !layers_.empty()) prefetch.backward = layers_.back().get();
  return fsdp_checkpointed_call(*root_, fn, hidden, {}, prefetch);
}

int64_t ShardedLlama::resident_base_bytes() const {
  int64_t total = root_->resident_bytes();
  for (const auto& layer : layers_) total += layer->resident_bytes();
  return total;
}

int64_t ShardedLlama::total_base_bytes() const {
  return llama_parameter_count(config_) * static_cast<int64_t>(c10::elementSize(dtype_));
}

FsdpStats ShardedLlama::stats() const {
  FsdpStats total = root_->stats();
  for (const auto& layer : layers_) {
    total.gathers += layer->stats().gathers;
    total.bytes_received += layer->stats().bytes_received;
  }
  return total;
}

void ShardedLlama::reset_stats() {
  gathered_memory_->peak = gathered_memory_->current;
  root_->reset_stats();
  for (auto& layer : layers_) layer->reset_stats();
}

}  // namespace llamarec
