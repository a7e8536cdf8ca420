// The two LRU scans against independent evaluations of h_t = m_{t-1}·λ·h_{t-1} + h~_t: a closed-form
// sum over std::complex (values) and a step-by-step autograd loop (gradients), plus finite differences.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <complex>
#include <vector>

#include "core/error.h"
#include "models/lru_layer.h"
#include "models/lru_scan.h"

namespace llamarec {
namespace {

using Scan = torch::Tensor (*)(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&);

// [B, L] bool with the first pads[b] positions of row b false.
torch::Tensor left_padded_mask(const std::vector<int64_t>& pads, int64_t length) {
  auto mask = torch::ones({static_cast<int64_t>(pads.size()), length}, torch::kBool);
  for (size_t b = 0; b < pads.size(); ++b) mask[b].narrow(0, 0, pads[b]).fill_(false);
  return mask;
}

// h_t = Σ_{s ≤ t, s real} λ^{t−s} h~_s at real t, h~_t at padded t (padding is a left prefix).
torch::Tensor closed_form(const torch::Tensor& h, const torch::Tensor& lambda, const torch::Tensor& mask) {
  const auto hd = h.to(torch::kDouble).contiguous();
  const auto ld = lambda.to(torch::kDouble).contiguous();
  const int64_t B = h.size(0), L = h.size(1), H = h.size(2) / 2;
  auto out = torch::zeros_like(hd);
  auto in = hd.accessor<double, 3>();
  auto lam = ld.accessor<double, 1>();
  auto res = out.accessor<double, 3>();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < L; ++t) {
      for (int64_t k = 0; k < H; ++k) {
        const std::complex<double> l(lam[k], lam[H + k]);
        std::complex<double> sum(in[b][t][k], in[b][t][H + k]);
        if (mask[b][t].item<bool>()) {
          sum = 0.0;
          for (int64_t s = 0; s <= t; ++s) {
            if (!mask[b][s].item<bool>()) continue;
            sum += std::pow(l, static_cast<double>(t - s)) * std::complex<double>(in[b][s][k], in[b][s][H + k]);
          }
        }
        res[b][t][k] = sum.real();
        res[b][t][H + k] = sum.imag();
      }
    }
  }
  return out;
}

// The recurrence written step by step with differentiable tensor ops (no scan code involved).
torch::Tensor stepwise(const torch::Tensor& h, const torch::Tensor& lambda, const torch::Tensor& mask) {
  const int64_t B = h.size(0), L = h.size(1), H = h.size(2) / 2;
  const auto lr = lambda.narrow(0, 0, H), li = lambda.narrow(0, H, H);
  const auto m = mask.to(h.scalar_type());
  auto sr = torch::zeros({B, H}, h.options()), si = torch::zeros({B, H}, h.options());
  std::vector<torch::Tensor> outs;
  for (int64_t t = 0; t < L; ++t) {
    const auto keep = t > 0 ? m.select(1, t - 1).unsqueeze(1) : torch::zeros({B, 1}, h.options());
    const auto xt = h.select(1, t);
    const auto nr = keep * (lr * sr - li * si) + xt.narrow(1, 0, H);
    const auto ni = keep * (lr * si + li * sr) + xt.narrow(1, H, H);
    sr = nr;
    si = ni;
    outs.push_back(torch::cat({sr, si}, 1));
  }
  return torch::stack(outs, 1);
}

// λ from (nu_log, theta_log) the way the layer builds it.
torch::Tensor lambda_of(const torch::Tensor& nu_log, const torch::Tensor& theta_log) {
  return lru_lambda(torch::stack({nu_log, theta_log, torch::zeros_like(nu_log)}));
}

// Ring-initialised logs for H channels (|λ| in [0.8, 0.99]).
std::pair<torch::Tensor, torch::Tensor> ring_logs(int64_t H) {
  const auto u1 = torch::rand({H}, torch::kDouble), u2 = torch::rand({H}, torch::kDouble);
  const auto nu_log = torch::log(-0.5 * torch::log(u1 * (0.99 * 0.99 - 0.8 * 0.8) + 0.8 * 0.8));
  return {nu_log, torch::log(u2 * 2.0 * M_PI)};
}

TEST(LruScan, BothScansMatchTheClosedFormSum) {
  torch::manual_seed(1);
  const int64_t L = 16, H = 4;
  const auto mask = left_padded_mask({0, 5, 15, 16}, L);  // incl. a single real item and an all-padding row
  const auto h = torch::randn({4, L, 2 * H}, torch::kDouble);
  auto [nu_log, theta_log] = ring_logs(H);
  const auto lambda = lambda_of(nu_log, theta_log);
  const auto expected = closed_form(h, lambda, mask);
  EXPECT_TRUE(torch::allclose(lru_parallel_scan(h, lambda, mask), expected, 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(lru_fused_scan(h, lambda, mask), expected, 1e-12, 1e-12));
}

TEST(LruScan, FusedScanHandlesAnyLengthAndPaddingDoesNotLeak) {
  torch::manual_seed(2);
  const int64_t L = 13, H = 3;
  const auto mask = left_padded_mask({0, 4, 12}, L);
  auto h = torch::randn({3, L, 2 * H}, torch::kDouble);
  auto [nu_log, theta_log] = ring_logs(H);
  const auto lambda = lambda_of(nu_log, theta_log);
  const auto out = lru_fused_scan(h, lambda, mask);
  EXPECT_TRUE(torch::allclose(out, closed_form(h, lambda, mask), 1e-12, 1e-12));
  // Changing the padded inputs must leave every real position unchanged.
  auto changed = h.clone();
  changed.masked_fill_(mask.logical_not().unsqueeze(-1), 123.0);
  const auto out2 = lru_fused_scan(changed, lambda, mask);
  const auto real = mask.unsqueeze(-1).expand_as(out);
  EXPECT_TRUE(torch::equal(out.masked_select(real), out2.masked_select(real)));
}

TEST(LruScan, GradientsOfBothScansMatchTheStepwiseRecurrence) {
  torch::manual_seed(3);
  const int64_t B = 3, L = 8, H = 5;
  const auto mask = left_padded_mask({0, 3, 7}, L);
  const auto logs = ring_logs(H);  // a pair; a lambda cannot capture structured bindings in C++17
  const auto& nu0 = std::get<0>(logs);
  const auto& theta0 = std::get<1>(logs);
  const auto weights = torch::randn({B, L, 2 * H}, torch::kDouble);
  const auto h0 = torch::randn({B, L, 2 * H}, torch::kDouble);

  auto grads_of = [&](Scan scan, torch::Tensor& value) {
    auto h = h0.clone().requires_grad_(true);
    auto nu_log = nu0.clone().requires_grad_(true);
    auto theta_log = theta0.clone().requires_grad_(true);
    const auto out = scan(h, lambda_of(nu_log, theta_log), mask);
    value = out.detach();
    return torch::autograd::grad({(out * weights).sum()}, {h, nu_log, theta_log});
  };
  torch::Tensor ref_value, parallel_value, fused_value;
  const auto ref = grads_of(&stepwise, ref_value);
  const auto parallel = grads_of(&lru_parallel_scan, parallel_value);
  const auto fused = grads_of(&lru_fused_scan, fused_value);
  EXPECT_TRUE(torch::allclose(parallel_value, ref_value, 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(fused_value, ref_value, 1e-12, 1e-12));
  const char* names[] = {"h", "nu_log", "theta_log"};
  for (size_t i = 0; i < ref.size(); ++i) {
    EXPECT_GT(ref[i].abs().max().item<double>(), 1e-3) << names[i];
    EXPECT_TRUE(torch::allclose(parallel[i], ref[i], 1e-10, 1e-12)) << "parallel d/d" << names[i];
    EXPECT_TRUE(torch::allclose(fused[i], ref[i], 1e-10, 1e-12)) << "fused d/d" << names[i];
  }
}

TEST(LruScan, FusedScanGradientsMatchFiniteDifferences) {
  torch::manual_seed(4);
  const int64_t B = 2, L = 5, H = 2;
  const auto mask = left_padded_mask({0, 2}, L);
  auto h = torch::randn({B, L, 2 * H}, torch::kDouble).requires_grad_(true);
  auto [nu_log, theta_log] = ring_logs(H);
  auto lambda = lambda_of(nu_log, theta_log).detach().requires_grad_(true);
  const auto weights = torch::randn({B, L, 2 * H}, torch::kDouble);
  auto loss_of = [&](const torch::Tensor& hh, const torch::Tensor& ll) {
    return (lru_fused_scan(hh, ll, mask) * weights).sum();
  };
  const auto analytic = torch::autograd::grad({loss_of(h, lambda)}, {h, lambda});
  const double eps = 1e-6;
  torch::NoGradGuard no_grad;
  const torch::Tensor inputs[] = {h.detach(), lambda.detach()};
  for (int which = 0; which < 2; ++which) {
    auto flat = inputs[which].clone().view(-1);
    auto numeric = torch::empty_like(flat);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double saved = flat[i].item<double>();
      auto eval = [&](double value) {
        flat[i] = value;
        const auto shaped = flat.view(inputs[which].sizes());
        return (which == 0 ? loss_of(shaped, inputs[1]) : loss_of(inputs[0], shaped)).item<double>();
      };
      numeric[i] = (eval(saved + eps) - eval(saved - eps)) / (2 * eps);
      flat[i] = saved;
    }
    EXPECT_TRUE(torch::allclose(analytic[which].reshape(-1), numeric, 1e-6, 1e-7)) << (which == 0 ? "h" : "lambda");
  }
}

TEST(LruScan, FusedScanRunsInFloat32) {
  torch::manual_seed(5);
  const int64_t L = 40, H = 8;
  const auto mask = left_padded_mask({0, 11}, L);
  auto [nu_log, theta_log] = ring_logs(H);
  const auto lambda = lambda_of(nu_log, theta_log);
  const auto h = torch::randn({2, L, 2 * H}, torch::kDouble);
  const auto expected = closed_form(h, lambda, mask);
  const auto out = lru_fused_scan(h.to(torch::kFloat), lambda.to(torch::kFloat), mask);
  EXPECT_EQ(out.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(out.to(torch::kDouble), expected, 1e-4, 1e-4));
}

// The packed scan (the model's training path) against the dense fused scan read at the kept
// positions: values bit for bit, gradients of a loss on the kept positions. Kept: every item, the
// label position just before a row's first item, and one stray padding position (a gap in the row).
TEST(LruScan, PackedScanIsTheDenseScanAtTheKeptPositions) {
  torch::manual_seed(6);
  const int64_t B = 5, L = 9, H = 3;
  const auto mask = left_padded_mask({0, 4, 8, 9, 9}, L);  // row 4: nothing kept
  auto kept = mask.clone();
  kept[1][3] = true;
  kept[2][7] = true;
  kept[2][1] = true;
  kept[3][5] = true;
  const auto packing = lru_packing(mask, kept);
  EXPECT_TRUE(torch::equal(packing.row_starts, torch::tensor({0, 9, 15, 18, 19, 19}, torch::kLong)));
  const int64_t T = packing.index.size(0);
  auto [nu_log, theta_log] = ring_logs(H);
  const auto lambda0 = lambda_of(nu_log, theta_log).detach();
  const auto h0 = torch::randn({B, L, 2 * H}, torch::kDouble);
  const auto weights = torch::randn({T, 2 * H}, torch::kDouble);

  auto run = [&](bool packed, torch::Tensor& value) {
    auto h = h0.clone().requires_grad_(true);
    auto lambda = lambda0.clone().requires_grad_(true);
    const auto flat = h.reshape({B * L, 2 * H});
    const auto out =
        packed ? lru_fused_scan_packed(flat.index_select(0, packing.index), lambda, packing.carry, packing.row_starts)
               : lru_fused_scan(h, lambda, mask).reshape({B * L, 2 * H}).index_select(0, packing.index);
    value = out.detach();
    return torch::autograd::grad({(out * weights).sum()}, {h, lambda});
  };
  torch::Tensor dense_value, packed_value;
  const auto dense = run(false, dense_value);
  const auto packed = run(true, packed_value);
  EXPECT_TRUE(torch::equal(packed_value, dense_value));
  EXPECT_TRUE(torch::equal(packed[0], dense[0])) << "d/dh";
  EXPECT_TRUE(torch::equal(packed[1], dense[1])) << "d/dlambda";
  EXPECT_GT(packed[1].abs().max().item<double>(), 1e-3);
  // The closed form at the kept positions, as an independent check of both.
  const auto expected = closed_form(h0, lambda0, mask).reshape({B * L, 2 * H}).index_select(0, packing.index);
  EXPECT_TRUE(torch::allclose(packed_value, expected, 1e-12, 1e-12));
}

TEST(LruScan, PackedScanRejectsBadRowBounds) {
  const auto h = torch::zeros({5, 4});
  const auto lambda = torch::zeros({4});
  const auto carry = torch::zeros({5}, torch::kBool);
  EXPECT_NO_THROW(lru_fused_scan_packed(h, lambda, carry, torch::tensor({0, 2, 5}, torch::kLong)));
  EXPECT_THROW(lru_fused_scan_packed(h, lambda, carry, torch::tensor({0, 2, 4}, torch::kLong)), Error);
  EXPECT_THROW(lru_fused_scan_packed(h, lambda, carry, torch::tensor({1, 2, 5}, torch::kLong)), Error);
  EXPECT_THROW(lru_fused_scan_packed(h, lambda, carry, torch::tensor({0, 3, 2, 5}, torch::kLong)), Error);
  EXPECT_THROW(lru_fused_scan_packed(h, lambda, carry, torch::tensor({0, 2, 5}, torch::kInt)), Error);
  EXPECT_THROW(lru_fused_scan_packed(h, lambda, torch::zeros({4}, torch::kBool), torch::tensor({0, 5}, torch::kLong)),
               Error);
}

TEST(LruScan, RejectsBadInputs) {
  const auto h = torch::zeros({2, 12, 8});
  const auto lambda = torch::zeros({8});
  const auto mask = torch::ones({2, 12}, torch::kBool);
  EXPECT_THROW(lru_parallel_scan(h, lambda, mask), Error);  // 12 is not a power of two
  EXPECT_THROW(lru_fused_scan(h, torch::zeros({6}), mask), Error);
  EXPECT_THROW(lru_fused_scan(h, lambda, torch::ones({2, 11}, torch::kBool)), Error);
  EXPECT_THROW(lru_fused_scan(h, lambda.to(torch::kDouble), mask), Error);
  EXPECT_THROW(lru_fused_scan(torch::zeros({2, 12, 7}), lambda, mask), Error);
}

}  // namespace
}  // namespace llamarec
