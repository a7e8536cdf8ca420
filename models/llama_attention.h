// Llama self-attention: q/k/v projections, RoPE, grouped-query attention over the (cached) keys,
// output projection. `attention()` is the one place that picks the kernel: the public fused SDPA on
// LibTorch 2.x, an explicit blocked matmul + mask + softmax on 1.13 (which has only a private op).
#pragma once
#include <torch/torch.h>

#include "models/llama_kv_cache.h"
#include "models/llama_rope.h"
#include "models/lora_linear.h"

namespace llamarec {

// Additive attention bias [B, 1, L, S] for the `length` newest queries over `past + length` keys:
// 0 where the key is visible (causal, and attention_mask[b, key] == 1), the dtype's lowest finite
// value elsewhere (finite so fully masked pad rows give no NaN). attention_mask may be undefined.
torch::Tensor attention_bias(const torch::Tensor& attention_mask, int64_t batch, int64_t past, int64_t length,
                             torch::Dtype dtype, torch::Device device);

// q [B, H, L, Dh], k/v [B, H, S, Dh] -> [B, H, L, Dh]. `bias` as above, or undefined with
// `causal` = true for plain causal attention over S == L keys.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& bias, bool causal);
// The explicit path (softmax in float32, as HF 4.33): scores for every key, masked. The tests' reference.
torch::Tensor attention_reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const torch::Tensor& bias, bool causal);
// The 1.13 kernel: the reference's arithmetic for blocks of `block` queries, each over only the keys
// its last query sees (causal: about half the scores at S == L are never computed, forward and
// backward), with the scale applied to q. `bias` as above (it is causal), or undefined for causal.
// Equal to the reference up to rounding.
inline constexpr int64_t kAttentionQueryBlock = 64;
torch::Tensor attention_blocked(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& bias, int64_t block);

// [B, Hkv, S, Dh] -> [B, Hkv·n_rep, S, Dh]: query head h reads kv head h / n_rep (HF's repeat_kv).
torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep);

struct AttentionWeights {
  LinearWeights q_proj, k_proj, v_proj, o_proj;
};

// Everything a layer needs besides its weights and input, shared by all layers of one forward.
struct LayerContext {
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  double rms_norm_eps = 1e-6;
  RotaryTables rope;   // for the new tokens' positions
  torch::Tensor bias;  // [B, 1, L, S] or undefined (then causal)
  bool causal = true;
  KVCache* cache = nullptr;  // nullptr: no cache
  int64_t layer_index = 0;   // the cache slot
  bool training = false;     // LoRA dropout
};

// hidden [B, L, D] (already normed) -> [B, L, D]
torch::Tensor self_attention_forward(const AttentionWeights& weights, const torch::Tensor& hidden,
                                     const LayerContext& context);

class LlamaAttentionImpl : public torch::nn::Module {
 public:
  LlamaAttentionImpl(int64_t hidden, int64_t num_heads, int64_t num_kv_heads, torch::TensorOptions options = {});
  AttentionWeights weights() const;
  LoraLinear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
};
TORCH_MODULE(LlamaAttention);

}  // namespace llamarec
