#include <gtest/gtest.h>
#include <torch/torch.h>

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

// The gradients are made in the forward only when a backward can follow; without them the value is
// the same, and with only some inputs requiring a gradient the others get none.
TEST(LruSoftmaxLoss, GradientsOnlyWhenNeeded) {
  torch::manual_seed(33);
  auto h = torch::randn({300, 5}, torch::kDouble).requires_grad_(true);
  const auto w = torch::randn({4000, 5}, torch::kDouble);
  const auto b = torch::randn({4000}, torch::kDouble);
  const auto targets = torch::randint(0, 4000, {300}, torch::kLong);
  const auto expected = torch::nn::functional::cross_entropy(torch::linear(h, w, b), targets);
  torch::Tensor plain;
  {
    torch::NoGradGuard no_grad;
    plain = lru_softmax_cross_entropy(h, w, b, targets, true);
  }
  EXPECT_FALSE(plain.requires_grad());
  EXPECT_NEAR(plain.item<double>(), expected.item<double>(), 1e-10);
  const auto fused = lru_softmax_cross_entropy(h, w, b, targets, true);
  EXPECT_EQ(fused.item<double>(), plain.item<double>());
  const auto grad = torch::autograd::grad({fused}, {h})[0];
  EXPECT_TRUE(torch::allclose(grad, torch::autograd::grad({expected}, {h})[0], 1e-10, 1e-12));
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
