#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "models/llama_attention.h"
#include "models/llama_rmsnorm.h"
#include "models/llama_rope.h"

namespace llamarec {
namespace {

TEST(LlamaOps, RmsNormClosedForm) {
  auto x = torch::tensor({{3.0f, 4.0f}, {1.0f, -1.0f}});
  auto w = torch::tensor({2.0f, 0.5f});
  auto y = rms_norm(x, w, 0.0);
  // rms([3, 4]) = sqrt(12.5); rms([1, -1]) = 1
  const double r = std::sqrt(12.5);
  auto expected = torch::tensor({{float(2 * 3 / r), float(0.5 * 4 / r)}, {2.0f, -0.5f}});
  EXPECT_TRUE(torch::allclose(y, expected, 1e-6, 1e-6));
  auto y_eps = rms_norm(torch::tensor({{1.0f, 1.0f}}), torch::ones({2}), 3.0);  // 1 / sqrt(1 + 3)
  EXPECT_TRUE(torch::allclose(y_eps, torch::full({1, 2}, 0.5f)));
}

TEST(LlamaOps, PositionIdsFromMaskAndArange) {
  auto mask = torch::tensor({{0, 0, 1, 1, 1}, {1, 1, 1, 1, 1}});
  auto from_mask = position_ids_for(PositionMode::kFromMask, mask, 2, 0, 5, torch::kCPU);
  EXPECT_TRUE(torch::equal(from_mask, torch::tensor({{1, 1, 0, 1, 2}, {0, 1, 2, 3, 4}})));
  auto arange = position_ids_for(PositionMode::kArange, mask, 2, 0, 5, torch::kCPU);
  EXPECT_TRUE(torch::equal(arange, torch::tensor({{0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}})));
  // The two newest of five tokens (three cached).
  auto tail = position_ids_for(PositionMode::kFromMask, mask, 2, 3, 2, torch::kCPU);
  EXPECT_TRUE(torch::equal(tail, torch::tensor({{1, 2}, {3, 4}})));
}

TEST(LlamaOps, RotaryClosedFormAndRelativePosition) {
  // Head dim 2: one frequency (1), so a pair (a, b) at position p turns by angle p.
  auto x = torch::tensor({1.0f, 2.0f}).view({1, 1, 1, 2});
  const double p = 0.7;
  auto tables = rotary_tables(torch::tensor({{p}}), 2, 10000.0, torch::kFloat32);
  auto y = apply_rotary(x, tables);
  auto expected = torch::tensor({float(1 * std::cos(p) - 2 * std::sin(p)), float(2 * std::cos(p) + 1 * std::sin(p))});
  EXPECT_TRUE(torch::allclose(y.flatten(), expected, 1e-6, 1e-6));

  // q·k after RoPE depends only on the offset between the positions (head dim 8, theta 100).
  torch::manual_seed(0);
  auto q = torch::randn({1, 1, 1, 8}, torch::kFloat64);
  auto k = torch::randn({1, 1, 1, 8}, torch::kFloat64);
  auto score = [&](int64_t pq, int64_t pk) {
    auto rq = apply_rotary(q, rotary_tables(torch::tensor({{pq}}), 8, 100.0, torch::kFloat64));
    auto rk = apply_rotary(k, rotary_tables(torch::tensor({{pk}}), 8, 100.0, torch::kFloat64));
    return (rq * rk).sum().item<double>();
  };
  EXPECT_NEAR(score(5, 2), score(13, 10), 1e-4);
  EXPECT_NEAR(score(0, 0), (q * k).sum().item<double>(), 1e-9);
  EXPECT_GT(std::abs(score(5, 2) - score(5, 4)), 1e-3);
}

// Scalar-loop attention in float64 with an explicit visibility predicate.
torch::Tensor naive_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const std::function<bool(int64_t, int64_t, int64_t)>& visible) {
  const auto B = q.size(0), H = q.size(1), L = q.size(2), S = k.size(2), D = q.size(3);
  auto qa = q.to(torch::kFloat64), ka = k.to(torch::kFloat64), va = v.to(torch::kFloat64);
  auto out = torch::zeros({B, H, L, D}, torch::kFloat64);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < L; ++i) {
        std::vector<double> w(S, 0.0);
        double max = -1e300, sum = 0;
        for (int64_t j = 0; j < S; ++j) {
          if (!visible(b, i, j)) continue;
          w[j] = (qa[b][h][i] * ka[b][h][j]).sum().item<double>() / std::sqrt(double(D));
          max = std::max(max, w[j]);
        }
        for (int64_t j = 0; j < S; ++j) {
          w[j] = visible(b, i, j) ? std::exp(w[j] - max) : 0.0;
          sum += w[j];
        }
        for (int64_t j = 0; j < S; ++j) out[b][h][i] += va[b][h][j] * (w[j] / sum);
      }
  return out;
}

TEST(LlamaOps, AttentionMatchesNaiveLoops) {
  torch::manual_seed(1);
  const int64_t B = 2, H = 2, L = 3, past = 2, S = past + L, D = 4;
  auto q = torch::randn({B, H, L, D}), k = torch::randn({B, H, S, D}), v = torch::randn({B, H, S, D});
  auto mask = torch::tensor({{0, 1, 1, 1, 1}, {1, 1, 1, 1, 1}});
  auto bias = attention_bias(mask, B, past, L, torch::kFloat32, torch::kCPU);
  auto visible = [&](int64_t b, int64_t i, int64_t j) { return j <= past + i && mask[b][j].item<int64_t>() == 1; };
  auto expected = naive_attention(q, k, v, visible);
  EXPECT_TRUE(torch::allclose(attention(q, k, v, bias, true).to(torch::kFloat64), expected, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(attention_reference(q, k, v, bias, true).to(torch::kFloat64), expected, 1e-5, 1e-5));

  // No bias: plain causal over S == L, and bottom-right causal when keys include a cache.
  auto kc = k.slice(2, past), vc = v.slice(2, past);
  auto causal = naive_attention(q, kc, vc, [](int64_t, int64_t i, int64_t j) { return j <= i; });
  EXPECT_TRUE(torch::allclose(attention(q, kc, vc, {}, true).to(torch::kFloat64), causal, 1e-5, 1e-5));
  auto cached = naive_attention(q, k, v, [&](int64_t, int64_t i, int64_t j) { return j <= past + i; });
  EXPECT_TRUE(torch::allclose(attention(q, k, v, {}, true).to(torch::kFloat64), cached, 1e-5, 1e-5));

  // Query blocks that do not divide L, and blocks of one query: every block sees only its keys.
  for (const int64_t block : {1, 2, 3, 64}) {
    EXPECT_TRUE(torch::allclose(attention_blocked(q, k, v, bias, block).to(torch::kFloat64), expected, 1e-5, 1e-5))
        << block;
    EXPECT_TRUE(torch::allclose(attention_blocked(q, kc, vc, {}, block).to(torch::kFloat64), causal, 1e-5, 1e-5))
        << block;
    EXPECT_TRUE(torch::allclose(attention_blocked(q, k, v, {}, block).to(torch::kFloat64), cached, 1e-5, 1e-5))
        << block;
  }
}

TEST(LlamaOps, BlockedAttentionGradientsEqualTheReferences) {
  torch::manual_seed(2);
  const int64_t B = 2, H = 2, L = 7, D = 4;
  const auto q0 = torch::randn({B, H, L, D}), k0 = torch::randn({B, H, L, D}), v0 = torch::randn({B, H, L, D});
  const auto w = torch::randn({B, H, L, D});
  // Left padding of 2 on the first prompt; its pad queries are left out of the loss (their
  // outputs differ: a fully masked row averages over the keys its block computed).
  const auto mask = torch::tensor({{0, 0, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1}});
  const auto bias = attention_bias(mask, B, 0, L, torch::kFloat32, torch::kCPU);
  const auto keep = mask.view({B, 1, L, 1}).to(torch::kFloat32);
  const auto grads = [&](bool blocked) {
    auto q = q0.clone().requires_grad_(true), k = k0.clone().requires_grad_(true), v = v0.clone().requires_grad_(true);
    const auto out = blocked ? attention_blocked(q, k, v, bias, 3) : attention_reference(q, k, v, bias, true);
    (out * w * keep).sum().backward();
    return std::vector<torch::Tensor>{q.grad(), k.grad(), v.grad()};
  };
  const auto reference = grads(false), blocked = grads(true);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(torch::allclose(blocked[i], reference[i], 1e-5, 1e-5)) << "qkv"[i];
}

TEST(LlamaOps, AttentionBiasStructureAndFullyMaskedRows) {
  auto mask = torch::tensor({{0, 0, 1}});
  auto bias = attention_bias(mask, 1, 0, 3, torch::kBFloat16, torch::kCPU);
  auto visible = (bias == 0).to(torch::kInt64).squeeze();
  EXPECT_TRUE(torch::equal(visible, torch::tensor({{0, 0, 0}, {0, 0, 0}, {0, 0, 1}})));
  EXPECT_TRUE(torch::isfinite(bias.to(torch::kFloat32)).all().item<bool>());
  // A pad query that sees no key still gives finite output (no NaN into the backward pass).
  auto q = torch::randn({1, 1, 3, 4}).to(torch::kBFloat16);
  auto out = attention(q, q, q, bias, true);
  EXPECT_TRUE(torch::isfinite(out.to(torch::kFloat32)).all().item<bool>());
}

TEST(LlamaOps, RepeatKvMapsQueryHeadsToKvHeads) {
  auto x = torch::arange(2 * 3, torch::kFloat32).view({1, 2, 3, 1});  // kv heads 0, 1
  auto r = repeat_kv(x, 3);                                           // 6 query heads
  ASSERT_EQ(r.sizes(), (std::vector<int64_t>{1, 6, 3, 1}));
  for (int64_t h = 0; h < 6; ++h) EXPECT_TRUE(torch::equal(r[0][h], x[0][h / 3])) << h;
}

}  // namespace
}  // namespace llamarec
