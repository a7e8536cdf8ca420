#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/lru_layer.h"
#include "models/lru_params.h"
#include "models/lru_rec.h"

namespace llamarec {
namespace {

LruConfig small_config(LruScan scan = LruScan::kFused) {
  LruConfig config;
  config.num_items = 30;
  config.hidden = 8;
  config.num_blocks = 2;
  config.scan = scan;
  return config;
}

torch::Tensor random_items(int64_t B, int64_t L, int64_t num_items) {
  return torch::randint(1, num_items + 1, {B, L}, torch::kLong);
}

void copy_parameters(const torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  auto target = to.named_parameters();
  for (const auto& item : from.named_parameters()) target[item.key()].copy_(item.value());
}

TEST(LruRec, OutputShapes) {
  torch::manual_seed(21);
  for (auto scan : {LruScan::kFused, LruScan::kParallel}) {
    LruRec model(small_config(scan));
    for (int64_t L : {1, 7, 8}) {
      const auto tokens = random_items(3, L, 30);
      EXPECT_EQ(model->hidden(tokens).sizes(), torch::IntArrayRef({3, L, 8}));
      EXPECT_EQ(model->forward(tokens).sizes(), torch::IntArrayRef({3, L, 31}));
      EXPECT_EQ(model->scores_last(tokens).sizes(), torch::IntArrayRef({3, 31}));
    }
  }
}

TEST(LruRec, ParameterCountFollowsTheArchitecture) {
  LruRec model(small_config());
  const int64_t V = 31, D = 8, H = 16, F = 32;
  const int64_t lru = 3 * H + 2 * (H * D + H) + 2 * (D * H + D) + 2 * D;
  const int64_t ffn = (D * F + F) + (F * D + D) + 2 * D;
  int64_t count = 0;
  for (const auto& p : model->parameters()) count += p.numel();
  EXPECT_EQ(count, V * D + 2 * D + V + 2 * (lru + ffn));
}

TEST(LruRec, LeftPaddingDoesNotChangeLastScores) {
  torch::manual_seed(22);
  for (auto scan : {LruScan::kFused, LruScan::kParallel}) {
    LruRec model(small_config(scan));
    model->eval();
    const auto items = random_items(1, 5, 30);
    // 5 → 8 positions (the parallel scan pads to 8) against 5 + 60 → 128.
    const auto padded = torch::cat({torch::zeros({1, 60}, torch::kLong), items}, 1);
    const auto a = model->scores_last(items), b = model->scores_last(padded);
    EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-5))
        << to_string(scan) << " max diff " << (a - b).abs().max().item<float>();
    // Rows of one batch with different amounts of padding: each equals its own unpadded run.
    const auto other = random_items(1, 9, 30);
    const auto batch = torch::cat({torch::cat({torch::zeros({1, 4}, torch::kLong), items}, 1), other}, 0);
    const auto both = model->scores_last(batch);
    EXPECT_TRUE(torch::allclose(both[0], a[0], 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(both[1], model->scores_last(other)[0], 1e-5, 1e-5));
  }
}

TEST(LruRec, SkippingAllPaddingColumnsChangesNothing) {
  // Short rows alone (most leading columns are padding everywhere and get skipped) against the same
  // rows next to a full-length row (nothing can be skipped): same scores, hidden states and loss.
  torch::manual_seed(27);
  for (auto scan : {LruScan::kFused, LruScan::kParallel}) {
    LruRec model(small_config(scan));
    model->to(torch::kDouble);
    model->eval();
    const int64_t L = 24;
    auto short_rows = random_items(2, L, 30);
    short_rows[0].narrow(0, 0, L - 5).fill_(0);
    short_rows[1].narrow(0, 0, L - 3).fill_(0);
    const auto full_row = random_items(1, L, 30);
    const auto both = torch::cat({short_rows, full_row}, 0);
    auto labels = random_items(3, L, 30);
    labels[0].narrow(0, 0, L - 6).fill_(0);  // the first label sits on a padding position (context: padding only)
    labels[1].narrow(0, 0, L - 4).fill_(0);
    labels[1][2] = 7;  // and one far inside the padding, as a caller may set
    const auto a = model->scores_last(short_rows), b = model->scores_last(both);
    EXPECT_TRUE(torch::allclose(a, b.narrow(0, 0, 2), 1e-10, 1e-12)) << to_string(scan);
    const auto ha = model->hidden(short_rows), hb = model->hidden(both);
    EXPECT_TRUE(torch::allclose(ha, hb.narrow(0, 0, 2), 1e-10, 1e-12)) << to_string(scan);
    const auto la = model->loss_sum(short_rows, labels.narrow(0, 0, 2)).item<double>();
    const auto lfull = model->loss_sum(full_row, labels.narrow(0, 2, 1)).item<double>();
    EXPECT_NEAR(la + lfull, model->loss_sum(both, labels).item<double>(), 1e-9) << to_string(scan);
    // Only padding: every position predicts from padding context.
    const auto empty = torch::zeros({2, L}, torch::kLong);
    EXPECT_TRUE(torch::allclose(model->scores_last(empty), model->scores_last(torch::zeros({2, 1}, torch::kLong)),
                                1e-10, 1e-12));
  }
}

TEST(LruRec, RingInitPutsLambdaInsideTheAnnulus) {
  torch::manual_seed(23);
  auto config = small_config();
  config.hidden = 64;
  LruRec model(config);
  for (const auto& block : *model->model->lru_blocks) {
    const auto& params_log = block->as<LruBlockImpl>()->lru_layer->params_log;
    ASSERT_EQ(params_log.sizes(), torch::IntArrayRef({3, 128}));
    const auto lambda = lru_lambda(params_log).view({2, 128});
    const auto modulus = torch::sqrt(lambda[0].pow(2) + lambda[1].pow(2));
    EXPECT_GE(modulus.min().item<float>(), 0.8f - 1e-6f);
    EXPECT_LE(modulus.max().item<float>(), 0.99f + 1e-6f);
    // Spread over the ring, not collapsed on one radius.
    EXPECT_GT((modulus.max() - modulus.min()).item<float>(), 0.1f);
    // γ normalises: γ² + |λ|² = 1.
    const auto gamma = torch::exp(params_log[2]);
    EXPECT_TRUE(torch::allclose(gamma.pow(2) + modulus.pow(2), torch::ones_like(gamma), 1e-5, 1e-5));
    const auto angle = torch::exp(params_log[1]);
    EXPECT_GE(angle.min().item<float>(), 0.0f);
    EXPECT_LE(angle.max().item<float>(), static_cast<float>(2 * M_PI));
  }
}

TEST(LruRec, TruncatedNormalInitAppliesByName) {
  torch::manual_seed(24);
  auto config = small_config();
  config.num_items = 2000;
  config.hidden = 32;
  LruRec model(config);
  std::vector<std::string> initialised;
  for (const auto& item : model->named_parameters()) {
    const auto& name = item.key();
    const auto& p = item.value();
    if (name.find("layer_norm") != std::string::npos) {
      const bool is_weight = name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0;
      EXPECT_TRUE(torch::equal(p, is_weight ? torch::ones_like(p) : torch::zeros_like(p))) << name;
      continue;
    }
    if (name.find("params_log") != std::string::npos) continue;
    initialised.push_back(name);
    EXPECT_GE(p.min().item<float>(), -0.04f) << name;
    EXPECT_LE(p.max().item<float>(), 0.04f) << name;
    EXPECT_NE(p.abs().max().item<float>(), 0.0f) << name;  // imaginary parts and the item bias too
  }
  EXPECT_EQ(initialised.size(), 2u + 2 * (8 + 4));  // token + bias, per block 8 complex-linear + 4 FFN tensors
  // N(0, 0.02²) truncated at ±2σ has standard deviation 0.02·sqrt(1 − 4φ(2)/(2Φ(2) − 1)) ≈ 0.017592.
  const auto& embedding = model->embedding->token->weight;
  EXPECT_NEAR(embedding.std().item<float>(), 0.017592f, 0.0005f);
  EXPECT_NEAR(embedding.mean().item<float>(), 0.0f, 0.0005f);
}

TEST(LruRec, WeightDecayGroupsFollowTheReferenceNames) {
  auto config = small_config();
  config.num_blocks = 1;
  LruRec model(config);
  const auto groups = lru_param_groups(*model);
  const std::set<std::string> decay(groups.decay_names.begin(), groups.decay_names.end());
  const std::set<std::string> no_decay(groups.no_decay_names.begin(), groups.no_decay_names.end());
  const std::string layer = "model.lru_blocks.0.lru_layer.", ffn = "model.lru_blocks.0.feed_forward.";
  EXPECT_EQ(decay, (std::set<std::string>{"embedding.token.weight", layer + "params_log", layer + "in_proj.weight_real",
                                          layer + "in_proj.weight_imag", layer + "out_proj.weight_real",
                                          layer + "out_proj.weight_imag", ffn + "w_1.weight", ffn + "w_2.weight"}));
  EXPECT_EQ(no_decay, (std::set<std::string>{"embedding.layer_norm.weight", "embedding.layer_norm.bias", "model.bias",
                                             layer + "in_proj.bias_real", layer + "in_proj.bias_imag",
                                             layer + "out_proj.bias_real", layer + "out_proj.bias_imag",
                                             layer + "layer_norm.weight", layer + "layer_norm.bias", ffn + "w_1.bias",
                                             ffn + "w_2.bias", ffn + "layer_norm.weight", ffn + "layer_norm.bias"}));
  EXPECT_EQ(groups.decay.size(), groups.decay_names.size());
  const auto adamw = lru_adamw_param_groups(*model, torch::optim::AdamWOptions(1e-3).weight_decay(0.01));
  ASSERT_EQ(adamw.size(), 2u);
  EXPECT_EQ(static_cast<const torch::optim::AdamWOptions&>(adamw[0].options()).weight_decay(), 0.01);
  EXPECT_EQ(static_cast<const torch::optim::AdamWOptions&>(adamw[1].options()).weight_decay(), 0.0);
  EXPECT_EQ(adamw[1].params().size(), no_decay.size());
}

TEST(LruRec, BothScansGiveTheSameOutputsAndGradients) {
  torch::manual_seed(25);
  LruRec fused(small_config(LruScan::kFused));
  LruRec parallel(small_config(LruScan::kParallel));
  copy_parameters(*fused, *parallel);
  fused->to(torch::kDouble);
  parallel->to(torch::kDouble);
  fused->eval();
  parallel->eval();
  auto tokens = random_items(3, 11, 30);  // 11 → 16 positions for the parallel scan
  tokens[1].narrow(0, 0, 4).fill_(0);
  tokens[2].narrow(0, 0, 10).fill_(0);
  const auto labels = random_items(3, 11, 30);
  const auto lf = fused->loss(tokens, labels), lp = parallel->loss(tokens, labels);
  EXPECT_NEAR(lf.item<double>(), lp.item<double>(), 1e-12);
  EXPECT_TRUE(torch::allclose(fused->forward(tokens), parallel->forward(tokens), 1e-10, 1e-12));
  const auto gf = torch::autograd::grad({lf}, fused->parameters(), {}, false, false, true);
  const auto gp = torch::autograd::grad({lp}, parallel->parameters(), {}, false, false, true);
  const auto names = fused->named_parameters().keys();
  ASSERT_EQ(gf.size(), gp.size());
  for (size_t i = 0; i < gf.size(); ++i) {
    ASSERT_EQ(gf[i].defined(), gp[i].defined()) << names[i];
    if (!gf[i].defined()) {
      EXPECT_NE(names[i].find("out_proj.bias_imag"), std::string::npos) << names[i];  // unused, as in the reference
      continue;
    }
    EXPECT_TRUE(torch::allclose(gf[i], gp[i], 1e-9, 1e-12)) << names[i];
  }
}

TEST(LruRec, LossEqualsCrossEntropyIgnoringPadLabels) {
  torch::manual_seed(26);
  LruRec model(small_config());
  model->eval();
  auto tokens = random_items(4, 6, 30);
  tokens[0].narrow(0, 0, 3).fill_(0);
  auto labels = random_items(4, 6, 30);
  labels[0].narrow(0, 0, 2).fill_(0);
  labels[3].fill_(0);
  const auto logits = model->forward(tokens).view({-1, 31});
  const auto flat = labels.view(-1);
  const auto log_probs = torch::log_softmax(logits, -1).gather(1, flat.unsqueeze(1)).squeeze(1);
  const auto keep = (flat > 0).to(torch::kFloat);
  const auto expected_sum = -(log_probs * keep).sum();
  EXPECT_NEAR(model->loss_sum(tokens, labels).item<float>(), expected_sum.item<float>(), 1e-4);
  EXPECT_NEAR(model->loss(tokens, labels).item<float>(), (expected_sum / keep.sum()).item<float>(), 1e-5);
  EXPECT_TRUE(torch::allclose(model->scores_last(tokens), model->forward(tokens).select(1, 5), 1e-6, 1e-6));
  EXPECT_EQ(model->loss(tokens, torch::zeros_like(labels)).item<float>(), 0.0f);
}

TEST(LruRec, LossOnKeptPositionsHasTheFullForwardsValueAndGradients) {
  // The loss computes only positions with an item or a label (LruPacking); the full forward computes
  // every position. Same loss and gradients, both scans, a label deep inside the padding included.
  torch::manual_seed(31);
  for (auto scan : {LruScan::kFused, LruScan::kParallel}) {
    LruRec model(small_config(scan));
    model->to(torch::kDouble);
    model->eval();
    const int64_t L = 12;
    auto tokens = random_items(3, L, 30);
    tokens[0].narrow(0, 0, 7).fill_(0);
    tokens[1].narrow(0, 0, 2).fill_(0);
    auto labels = random_items(3, L, 30);
    labels[0].narrow(0, 0, 6).fill_(0);
    labels[0][1] = 5;
    labels[2][4] = 0;
    const auto packed = model->loss_sum(tokens, labels);
    const auto packed_grads = torch::autograd::grad({packed}, model->parameters(), {}, false, false, true);
    const auto flat = labels.view(-1);
    const auto log_probs = torch::log_softmax(model->forward(tokens).view({-1, 31}), -1);
    const auto keep = (flat > 0).to(torch::kDouble);
    const auto full = -(log_probs.gather(1, flat.unsqueeze(1)).squeeze(1) * keep).sum();
    const auto full_grads = torch::autograd::grad({full}, model->parameters(), {}, false, false, true);
    EXPECT_NEAR(packed.item<double>(), full.item<double>(), 1e-9) << to_string(scan);
    ASSERT_EQ(packed_grads.size(), full_grads.size());
    for (size_t i = 0; i < full_grads.size(); ++i) {
      if (!full_grads[i].defined()) continue;
      ASSERT_TRUE(packed_grads[i].defined()) << i;
      EXPECT_TRUE(torch::allclose(packed_grads[i], full_grads[i], 1e-8, 1e-10))
          << to_string(scan) << " parameter " << i;
    }
  }
}

TEST(LruRec, RejectsBadTokens) {
  LruRec model(small_config());
  EXPECT_THROW(model->forward(torch::full({2, 3}, 31, torch::kLong)), Error);
  EXPECT_THROW(model->forward(torch::full({2, 3}, -1, torch::kLong)), Error);
  EXPECT_THROW(model->forward(torch::ones({6}, torch::kLong)), Error);
  EXPECT_THROW(model->forward(torch::ones({2, 3}, torch::kFloat)), Error);
  EXPECT_THROW(model->forward(torch::tensor({3, 0, 4}, torch::kLong).view({1, 3})), Error);  // right/middle padding
  EXPECT_THROW(model->loss(torch::ones({2, 3}, torch::kLong), torch::ones({2, 4}, torch::kLong)), Error);
  auto bad = small_config();
  bad.dropout = 1.0;
  EXPECT_THROW(LruRec{bad}, Error);
  EXPECT_THROW(parse_lru_scan("serial", "test"), Error);
  EXPECT_EQ(parse_lru_scan("parallel", "test"), LruScan::kParallel);
}

TEST(LruRec, OverfitsADeterministicPattern) {
  torch::manual_seed(27);
  const int64_t items = 12, L = 16;
  LruConfig config;
  config.num_items = items;
  config.hidden = 16;
  config.dropout = 0.0;
  config.attn_dropout = 0.0;
  LruRec model(config);
  // Each row walks the cycle 1 → 2 → … → 12 → 1 from its own start; the label is the next item.
  auto seq = torch::empty({items, L + 1}, torch::kLong);
  for (int64_t u = 0; u < items; ++u)
    for (int64_t t = 0; t <= L; ++t) seq[u][t] = (u + t) % items + 1;
  auto tokens = seq.narrow(1, 0, L).clone(), labels = seq.narrow(1, 1, L).clone();
  tokens.narrow(0, 0, 4).narrow(1, 0, 5).fill_(0);  // some left padding
  labels.narrow(0, 0, 4).narrow(1, 0, 4).fill_(0);
  torch::optim::AdamW optimizer(
      lru_adamw_param_groups(*model, torch::optim::AdamWOptions(5e-3).eps(1e-9).weight_decay(0.01)),
      torch::optim::AdamWOptions(5e-3));
  const float first = model->loss(tokens, labels).item<float>();
  float last = first;
  for (int step = 0; step < 200; ++step) {
    optimizer.zero_grad();
    auto loss = model->loss(tokens, labels);
    loss.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 5.0);
    optimizer.step();
    last = loss.item<float>();
  }
  EXPECT_NEAR(first, std::log(13.0f), 0.3f);
  EXPECT_LT(last, 0.1f * first) << "loss " << first << " -> " << last;
}

}  // namespace
}  // namespace llamarec
