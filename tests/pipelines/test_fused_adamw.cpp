// FusedAdamW against LibTorch's AdamW: the same trajectory (to float rounding) over many steps, with
// and without weight decay, and the same state objects (so that it checkpoints alike).
#include "pipelines/training/fused_adamw.h"
#include "pipelines/training/optimizer_state.h"

#include <gtest/gtest.h>

namespace llamarec {
namespace {

TEST(FusedAdamW, FollowsLibTorchAdamW) {
  torch::manual_seed(3);
  const auto start = torch::randn({1000});
  auto a = start.clone().requires_grad_(true), b = start.clone().requires_grad_(true);
  auto c = torch::randn({7, 5}).requires_grad_(true);  // a second group, without decay
  auto d = c.detach().clone().requires_grad_(true);
  const auto options = torch::optim::AdamWOptions(3e-3).weight_decay(0.05).eps(1e-7);
  auto groups = [&](torch::Tensor x, torch::Tensor y) {
    std::vector<torch::optim::OptimizerParamGroup> out;
    out.emplace_back(std::vector<torch::Tensor>{x}, std::make_unique<torch::optim::AdamWOptions>(options));
    auto no_decay = std::make_unique<torch::optim::AdamWOptions>(options);
    no_decay->weight_decay(0);
    out.emplace_back(std::vector<torch::Tensor>{y}, std::move(no_decay));
    return out;
  };
  torch::optim::AdamW reference(groups(a, c), options);
  FusedAdamW fused(groups(b, d), options);
  for (int step = 0; step < 200; ++step) {
    const auto target = torch::randn({1000});
    for (auto* opt : std::vector<torch::optim::Optimizer*>{&reference, &fused}) opt->zero_grad();
    ((a - target).pow(2).sum() + c.pow(3).sum()).backward();
    ((b - target).pow(2).sum() + d.pow(3).sum()).backward();
    reference.step();
    fused.step();
  }
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-6)) << (a - b).abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(c, d, 1e-5, 1e-6)) << (c - d).abs().max().item<double>();
  const auto& ra = static_cast<const torch::optim::AdamWParamState&>(*reference.state().at(optimizer_state_key(a)));
  const auto& fb = static_cast<const torch::optim::AdamWParamState&>(*fused.state().at(optimizer_state_key(b)));
  EXPECT_EQ(ra.step(), fb.step());
  EXPECT_TRUE(torch::allclose(ra.exp_avg(), fb.exp_avg(), 1e-5, 1e-7));
  EXPECT_TRUE(torch::allclose(ra.exp_avg_sq(), fb.exp_avg_sq(), 1e-5, 1e-7));
}

TEST(FusedAdamW, NonContiguousAndDoubleParametersTakeLibTorchsPath) {
  auto x = torch::randn({4, 6}, torch::kDouble).requires_grad_(true);
  auto y = x.detach().clone().requires_grad_(true);
  torch::optim::AdamW reference(std::vector<torch::Tensor>{x}, torch::optim::AdamWOptions(1e-2));
  FusedAdamW fused(std::vector<torch::Tensor>{y}, torch::optim::AdamWOptions(1e-2));
  for (int step = 0; step < 20; ++step) {
    reference.zero_grad();
    fused.zero_grad();
    x.pow(2).sum().backward();
    y.pow(2).sum().backward();
    reference.step();
    fused.step();
  }
  EXPECT_TRUE(torch::equal(x, y));  // the same ops, so the same bits
}

}  // namespace
}  // namespace llamarec
