#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "models/lru_dropout.h"

namespace llamarec {
namespace {

TEST(LruDropout, KeepsTheRightFractionAndScales) {
  torch::manual_seed(41);
  const auto x = torch::rand({1000, 1000}) + 0.5;  // no zeros in the input
  for (double p : {0.1, 0.2, 0.5, 0.8}) {
    const auto y = lru_dropout(x, p, true);
    const auto kept = y != 0;
    const double keep_rate = kept.to(torch::kDouble).mean().item<double>();
    // Binomial standard deviation over 1e6 draws is below 5e-4.
    EXPECT_NEAR(keep_rate, 1.0 - p, 2.5e-3) << "p " << p;
    EXPECT_TRUE(torch::allclose(y.masked_select(kept), x.masked_select(kept) / (1.0 - p), 1e-6, 1e-6));
  }
}

TEST(LruDropout, MasksLookIndependent) {
  torch::manual_seed(42);
  const auto kept = (lru_dropout(torch::ones({1 << 20}), 0.5, true) != 0).to(torch::kDouble);
  const auto centred = kept - kept.mean();
  // Neighbouring and strided elements uncorrelated (|r| ~ 1e-3 for 1M draws).
  for (int64_t lag : {1, 2, 64, 4096}) {
    const auto a = centred.narrow(0, 0, centred.size(0) - lag), b = centred.narrow(0, lag, centred.size(0) - lag);
    EXPECT_LT(std::abs((a * b).mean().item<double>() / centred.pow(2).mean().item<double>()), 0.01) << "lag " << lag;
  }
  // Two calls draw different masks; runs of equal bits are as short as for coin flips (mean 2).
  const auto other = (lru_dropout(torch::ones({1 << 20}), 0.5, true) != 0).to(torch::kDouble);
  EXPECT_NEAR((kept == other).to(torch::kDouble).mean().item<double>(), 0.5, 0.005);
  const double changes =
      (kept.narrow(0, 1, kept.size(0) - 1) != kept.narrow(0, 0, kept.size(0) - 1)).sum().item<double>();
  EXPECT_NEAR(kept.size(0) / changes, 2.0, 0.02);
}

TEST(LruDropout, ReproducibleUnderManualSeedAndIdentityWhenOff) {
  const auto x = torch::randn({37, 11});
  torch::manual_seed(7);
  const auto a = lru_dropout(x, 0.3, true);
  torch::manual_seed(7);
  const auto b = lru_dropout(x, 0.3, true);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_TRUE(torch::equal(lru_dropout(x, 0.3, false), x));
  EXPECT_TRUE(torch::equal(lru_dropout(x, 0.0, true), x));
  EXPECT_THROW(lru_dropout(x, 1.0, true), Error);
}

TEST(LruDropout, BackwardUsesTheForwardMask) {
  torch::manual_seed(43);
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    auto x = (torch::rand({64, 33}, dtype) + 0.5).requires_grad_(true);
    const auto y = lru_dropout(x, 0.4, true);
    const auto g = torch::randn({64, 33}, dtype);
    const auto grad = torch::autograd::grad({(y * g).sum()}, {x})[0];
    // y = x·m/(1−p) elementwise, so dy/dx = m/(1−p) = y/x.
    EXPECT_TRUE(torch::allclose(grad, g * (y / x).detach(), 1e-6, 1e-6));
    EXPECT_EQ(grad.scalar_type(), dtype);
  }
}

}  // namespace
}  // namespace llamarec
