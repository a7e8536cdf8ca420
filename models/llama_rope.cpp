#include "models/llama_rope.h"

#include "core/error.h"

namespace llamarec {

torch::Tensor position_ids_for(PositionMode mode, const torch::Tensor& attention_mask, int64_t batch, int64_t past,
                               int64_t length, torch::Device device) {
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(device);
  if (mode == PositionMode::kArange || !attention_mask.defined())
    return torch::arange(past, past + length, i64).unsqueeze(0).expand({batch, length});
  if (attention_mask.dim() != 2 || attention_mask.size(0) != batch || attention_mask.size(1) != past + length)
    fail("attention_mask has shape {}, expected [{}, {}] (batch, cached + new tokens)",
         fmt::join(attention_mask.sizes(), "x"), batch, past + length);
  // Pads get position 1 as in HF's generate(); their outputs are never used.
  auto positions = attention_mask.to(torch::kInt64).cumsum(-1) - 1;
  positions.masked_fill_(attention_mask == 0, 1);
  return positions.slice(1, past, past + length);
}

RotaryTables rotary_tables(const torch::Tensor& position_ids, int64_t head_dim, double theta, torch::Dtype dtype) {
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(position_ids.device());
  const auto inv_freq = 1.0 / torch::pow(theta, torch::arange(0, head_dim, 2, f32) / head_dim);  // [Dh/2]
  const auto freqs = position_ids.to(torch::kFloat32).unsqueeze(-1) * inv_freq;                  // [B, L, Dh/2]
  const auto angles = torch::cat({freqs, freqs}, -1).unsqueeze(1);                               // [B, 1, L, Dh]
  return {angles.cos().to(dtype), angles.sin().to(dtype)};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& tables) {
  const int64_t half = x.size(-1) / 2;
  const auto rotated = torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
  return x * tables.cos + rotated * tables.sin;
}

}  // namespace llamarec
