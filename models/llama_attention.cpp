#include "models/llama_attention.h"

#include <torch/version.h>

#include "core/profile_scope.h"

#include <cmath>
#include <limits>

namespace llamarec {

namespace {

double lowest_finite(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat16:
      return static_cast<double>(std::numeric_limits<c10::Half>::lowest());
    case torch::kBFloat16:
      return static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    case torch::kFloat64:
      return std::numeric_limits<double>::lowest();
    default:
      return static_cast<double>(std::numeric_limits<float>::lowest());
  }
}

}  // namespace

torch::Tensor attention_bias(const torch::Tensor& attention_mask, int64_t batch, int64_t past, int64_t length,
                             torch::Dtype dtype, torch::Device device) {
  const int64_t total = past + length;
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const auto query_pos = torch::arange(past, total, i64).unsqueeze(1);  // [L, 1]
  const auto key_pos = torch::arange(0, total, i64).unsqueeze(0);       // [1, S]
  auto visible = (key_pos <= query_pos).view({1, 1, length, total});    // [1, 1, L, S]
  if (attention_mask.defined()) visible = visible & (attention_mask.to(device) != 0).view({batch, 1, 1, total});
  visible = visible.expand({batch, 1, length, total});
  auto bias = torch::zeros({batch, 1, length, total}, torch::TensorOptions().dtype(dtype).device(device));
  return bias.masked_fill(visible.logical_not(), lowest_finite(dtype));
}

torch::Tensor attention_reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const torch::Tensor& bias, bool causal) {
  auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));  // [B,H,L,S]
  if (bias.defined()) {
    scores = scores + bias;
  } else if (causal) {
    const int64_t l = q.size(-2), s = k.size(-2);
    auto hidden = torch::ones({l, s}, torch::TensorOptions().dtype(torch::kBool).device(q.device())).triu(s - l + 1);
    scores = scores.masked_fill(hidden, lowest_finite(scores.scalar_type()));
  }
  const auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  return torch::matmul(probs, v);
}

torch::Tensor attention_blocked(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& bias, int64_t block) {
  const int64_t length = q.size(-2), past = k.size(-2) - length;
  // Scaling q [.., L, Dh] instead of the scores [.., L, S] saves a pass over the largest tensor.
  const auto scaled_q = q * (1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  std::vector<torch::Tensor> outs;
  for (int64_t begin = 0; begin < length; begin += block) {
    const int64_t rows = std::min(block, length - begin);
    const int64_t keys = past + begin + rows;  // the last query of the block sees keys [0, keys)
    auto scores =
        torch::matmul(scaled_q.narrow(-2, begin, rows), k.narrow(-2, 0, keys).transpose(-2, -1));  // [B, H, rows, keys]
    // In place: the product's backward needs its inputs only.
    if (bias.defined()) {
      scores.add_(bias.narrow(2, begin, rows).narrow(3, 0, keys));
    } else {
      const auto hidden = torch::ones({rows, keys}, torch::TensorOptions().dtype(torch::kBool).device(q.device()))
                              .triu(past + begin + 1);
      scores.masked_fill_(hidden, lowest_finite(scores.scalar_type()));
    }
    const auto probs = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
    outs.push_back(torch::matmul(probs, v.narrow(-2, 0, keys)));  // [B, H, rows, Dh]
  }
  return outs.size() == 1 ? outs[0] : torch::cat(outs, -2);
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& bias, bool causal) {
  if (!bias.defined() && !causal) return attention_reference(q, k, v, bias, causal);
#if TORCH_VERSION_MAJOR >= 2
  // SDPA's is_causal aligns the mask top-left; with cached keys (S > L) only an explicit bias is right.
  if (!bias.defined() && causal && q.size(-2) != k.size(-2)) return attention_reference(q, k, v, bias, causal);
  return at::scaled_dot_product_attention(q, k, v, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt, 0.0,
                                          !bias.defined() && causal);
#else
  return attention_blocked(q, k, v, bias, kAttentionQueryBlock);
#endif
}

torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  const auto b = x.size(0), h = x.size(1), s = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, h, n_rep, s, d}).reshape({b, h * n_rep, s, d});
}

torch::Tensor self_attention_forward(const AttentionWeights& w, const torch::Tensor& hidden, const LayerContext& ctx) {
  const int64_t b = hidden.size(0), l = hidden.size(1);
  auto project = [&](const LinearWeights& lw, int64_t heads) {
    return linear_forward(lw, hidden, ctx.training).view({b, l, heads, ctx.head_dim}).transpose(1, 2);
  };
  torch::Tensor q, k, v;
  {
    const ProfileScope profile("llama.qkv_rope");
    q = apply_rotary(project(w.q_proj, ctx.num_heads), ctx.rope);                         // [B, H, L, Dh]
    k = apply_rotary(project(w.k_proj, ctx.num_kv_heads), ctx.rope);                      // [B, Hkv, L, Dh]
    v = project(w.v_proj, ctx.num_kv_heads);                                              // [B, Hkv, L, Dh]
    if (ctx.cache != nullptr) std::tie(k, v) = ctx.cache->update(ctx.layer_index, k, v);  // [B, Hkv, S, Dh]
  }
  torch::Tensor out;
  {
    const ProfileScope profile("llama.attention");
    const int64_t n_rep = ctx.num_heads / ctx.num_kv_heads;
    out = attention(q, repeat_kv(k, n_rep), repeat_kv(v, n_rep), ctx.bias, ctx.causal);  // [B, H, L, Dh]
    out = out.transpose(1, 2).reshape({b, l, ctx.num_heads * ctx.head_dim});
  }
  const ProfileScope profile("llama.o_proj");
  return linear_forward(w.o_proj, out, ctx.training);
}

LlamaAttentionImpl::LlamaAttentionImpl(int64_t hidden, int64_t num_heads, int64_t num_kv_heads,
                                       torch::TensorOptions options) {
  const int64_t head_dim = hidden / num_heads;
  q_proj = register_module("q_proj", LoraLinear(hidden, num_heads * head_dim, options));
  k_proj = register_module("k_proj", LoraLinear(hidden, num_kv_heads * head_dim, options));
  v_proj = register_module("v_proj", LoraLinear(hidden, num_kv_heads * head_dim, options));
  o_proj = register_module("o_proj", LoraLinear(num_heads * head_dim, hidden, options));
}

AttentionWeights LlamaAttentionImpl::weights() const {
  return {q_proj->weights(), k_proj->weights(), v_proj->weights(), o_proj->weights()};
}

}  // namespace llamarec
