#include <gtest/gtest.h>
#include <torch/torch.h>

#include <tuple>

#include "core/error.h"
#include "models/lru_softmax_loss.h"

namespace llamarec {
namespace {

// Against LibTorch's own linear + cross_entropy, values and gradients, for several chunkings
// (a chunk holds 2^19 / V rows: V = 5000 → 104 rows, so N = 250 spans three chunks).
TEST(LruSoftmaxLoss, MatchesLinearPlusCrossEntropy) {
  torch::manual_seed(31);
  for (auto [N, V] : {std::pair<int64_t, int64_t>{250, 5000}, {7, 40}, {1, 3}}) {
    for (bool mean : {true, false}) {
      const int64_t D = 6;
      auto h = torch::randn({N, D}, torch::kDouble).requires_grad_(true);
      auto w = torch::randn({V, D}, torch::kDouble).requires_grad_(true);
      auto b = torch::randn({V}, torch::kDouble).requires_grad_(true);
      auto targets = torch::randint(0, V, {N}, torch::kLong);
      const auto fused = lru_softmax_cross_entropy(h, w, b, targets, mean);
      namespace F = torch::nn::functional;
      const auto options = mean ? F::CrossEntropyFuncOptions().reduction(torch::kMean)
                                : F::CrossEntropyFuncOptions().reduction(torch::kSum);
      const auto expected = F::cross_entropy(torch::linear(h, w, b), targets, options);
      EXPECT_NEAR(fused.item<double>(), expected.item<double>(), 1e-10 * std::max(1.0, expected.item<double>()));
      const auto g_fused = torch::autograd::grad({fused * 1.7}, {h, w, b});
      const auto g_expected = torch::autograd::grad({expected * 1.7}, {h, w, b});
      for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(torch::allclose(g_fused[i], g_expected[i], 1e-10, 1e-12))
            << "N " << N << " V " << V << " input " << i;
    }
  }
}

// The gradients are made in the forward only when a backward can follow, and only for the inputs
// that require them; without them the value is the same.
TEST(LruSoftmaxLoss, GradientsOnlyWhenNeeded) {
  torch::manual_seed(33);
  const auto h0 = torch::randn({300, 5}, torch::kDouble);
  const auto w0 = torch::randn({4000, 5}, torch::kDouble);
  const auto b0 = torch::randn({4000}, torch::kDouble);
  const auto targets = torch::randint(0, 4000, {300}, torch::kLong);
  auto reference = [&](bool gh, bool gw, bool gb) {
    auto h = h0.clone().requires_grad_(gh), w = w0.clone().requires_grad_(gw), b = b0.clone().requires_grad_(gb);
    return std::make_tuple(h, w, b, torch::nn::functional::cross_entropy(torch::linear(h, w, b), targets));
  };
  {
    torch::NoGradGuard no_grad;
    const auto plain = lru_softmax_cross_entropy(h0, w0, b0, targets, true);
    EXPECT_FALSE(plain.requires_grad());
    EXPECT_NEAR(plain.item<double>(), std::get<3>(reference(false, false, false)).item<double>(), 1e-10);
  }
  for (auto [gh, gw, gb] : {std::tuple{true, false, false}, {false, true, false}, {false, false, true}}) {
    auto [h, w, b, expected] = reference(gh, gw, gb);
    const auto fused = lru_softmax_cross_entropy(h, w, b, targets, true);
    EXPECT_NEAR(fused.item<double>(), expected.item<double>(), 1e-10);
    const auto& input = gh ? h : gw ? w : b;
    const auto g = torch::autograd::grad({fused}, {input})[0];
    EXPECT_TRUE(torch::allclose(g, torch::autograd::grad({expected}, {input})[0], 1e-10, 1e-12)) << gh << gw << gb;
  }
}

// Two backwards through one graph add up; a second-order backward and an input changed in place
// before the backward fail instead of giving wrong gradients.
TEST(LruSoftmaxLoss, BackwardSemantics) {
  torch::manual_seed(34);
  auto h = torch::randn({20, 4}, torch::kDouble).requires_grad_(true);
  auto w = torch::randn({50, 4}, torch::kDouble).requires_grad_(true);
  auto b = torch::randn({50}, torch::kDouble).requires_grad_(true);
  const auto targets = torch::randint(0, 50, {20}, torch::kLong);
  auto loss = lru_softmax_cross_entropy(h, w, b, targets, false);
  loss.backward({}, /*retain_graph=*/true);
  const auto once = w.grad().clone();
  loss.backward();
  EXPECT_TRUE(torch::allclose(w.grad(), 2 * once, 1e-12, 1e-14));

  loss = lru_softmax_cross_entropy(h, w, b, targets, true);
  EXPECT_THROW(torch::autograd::grad({loss}, {h}, {}, /*retain_graph=*/true, /*create_graph=*/true), Error);

  loss = lru_softmax_cross_entropy(h, w, b, targets, true);
  {
    torch::NoGradGuard no_grad;
    w.mul_(2);
  }
  EXPECT_THROW(loss.backward(), c10::Error);
}

// bf16 inputs: the weight gradient is summed over the row chunks in float32, so it stays as close to
// the float64 one as a single bf16 rounding allows.
TEST(LruSoftmaxLoss, Bfloat16SumsTheWeightGradientInFloat32) {
  torch::manual_seed(35);
  const auto h = torch::randn({1000, 8}, torch::kDouble), w = torch::randn({8000, 8}, torch::kDouble) * 0.3;
  const auto b = torch::zeros({8000}, torch::kDouble);
  const auto targets = torch::randint(0, 8000, {1000}, torch::kLong);  // 16 row chunks at V = 8,000
  auto grad_w = [&](torch::ScalarType dtype) {
    auto wt = w.to(dtype).requires_grad_(true);
    const auto loss = lru_softmax_cross_entropy(h.to(dtype), wt, b.to(dtype), targets, false);
    return torch::autograd::grad({loss}, {wt})[0].to(torch::kDouble);
  };
  const auto exact = grad_w(torch::kDouble), bf16 = grad_w(torch::kBFloat16);
  // Measured: 0.0024 summed in float32, 0.0063 when each chunk's sum is rounded to bf16.
  EXPECT_LT(((bf16 - exact).norm() / exact.norm()).item<double>(), 0.004);
}

TEST(LruSoftmaxLoss, Float32StaysAccurateForLargeScores) {
  torch::manual_seed(32);
  const auto h = torch::randn({50, 8}) * 30;  // logits in the thousands: needs the max shift
  const auto w = torch::randn({300, 8});
  const auto b = torch::randn({300});
  const auto targets = torch::randint(0, 300, {50}, torch::kLong);
  const auto expected = torch::nn::functional::cross_entropy(
      torch::linear(h.to(torch::kDouble), w.to(torch::kDouble), b.to(torch::kDouble)), targets);
  const auto fused = lru_softmax_cross_entropy(h, w, b, targets, true);
  EXPECT_TRUE(std::isfinite(fused.item<float>()));
  EXPECT_NEAR(fused.item<float>(), expected.item<double>(), 1e-3 * expected.item<double>());
}

TEST(LruSoftmaxLoss, EmptyBatchAndBadInputs) {
  auto h = torch::zeros({0, 4}).requires_grad_(true);
  auto w = torch::randn({10, 4}).requires_grad_(true);
  auto b = torch::zeros({10}).requires_grad_(true);
  const auto loss = lru_softmax_cross_entropy(h, w, b, torch::zeros({0}, torch::kLong), true);
  EXPECT_EQ(loss.item<float>(), 0.0f);
  const auto grads = torch::autograd::grad({loss}, {w, b});
  EXPECT_EQ(grads[0].abs().sum().item<float>(), 0.0f);
  EXPECT_THROW(lru_softmax_cross_entropy(torch::zeros({2, 4}), w, b, torch::full({2}, 10, torch::kLong), true), Error);
  EXPECT_THROW(lru_softmax_cross_entropy(torch::zeros({2, 5}), w, b, torch::zeros({2}, torch::kLong), true), Error);
  EXPECT_THROW(lru_softmax_cross_entropy(torch::zeros({2, 4}), w, b, torch::zeros({3}, torch::kLong), true), Error);
}

}  // namespace
}  // namespace llamarec
