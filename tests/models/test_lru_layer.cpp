// The LRU layer against a complex128 transcription of the reference LRULayer.forward (torch complex
// ops on the real/imag parameter pairs; the recurrence as an explicit loop).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/lru_ffn.h"
#include "models/lru_layer.h"
#include "models/lru_params.h"

namespace llamarec {
namespace {

torch::Tensor reference_layer(LruLayerImpl& layer, const torch::Tensor& x, const torch::Tensor& mask) {
  torch::NoGradGuard no_grad;
  const auto p = torch::exp(layer.params_log);  // [3, H]: nu, theta, gamma
  const auto lambda = torch::exp(torch::complex(-p[0], p[1]));
  const auto w_in = torch::complex(layer.in_proj->weight_real, layer.in_proj->weight_imag);
  const auto b_in = torch::complex(layer.in_proj->bias_real, layer.in_proj->bias_imag);
  const auto w_out = torch::complex(layer.out_proj->weight_real, layer.out_proj->weight_imag);
  const auto b_out = torch::complex(layer.out_proj->bias_real, layer.out_proj->bias_imag);
  const auto xc = torch::complex(x, torch::zeros_like(x));
  const auto h = (torch::matmul(xc, w_in.t()) + b_in) * p[2];  // [B, L, H]
  std::vector<torch::Tensor> states;
  auto state = torch::zeros_like(h.select(1, 0));
  for (int64_t t = 0; t < x.size(1); ++t) {
    const bool first = t == 0;
    const auto keep =
        first ? torch::zeros({x.size(0), 1}, x.options()) : mask.select(1, t - 1).to(x.dtype()).unsqueeze(1);
    state = lambda * state * keep + h.select(1, t);
    states.push_back(state);
  }
  const auto scanned = torch::stack(states, 1);
  const auto y = torch::real(torch::matmul(scanned, w_out.t()) + b_out);
  return torch::layer_norm(y + x, {x.size(2)}, layer.layer_norm->weight, layer.layer_norm->bias, 1e-5);
}

TEST(LruLayer, MatchesComplexTranscriptionOfTheReference) {
  torch::manual_seed(11);
  const int64_t D = 4, L = 8;
  LruLayer layer(D, 0.3, 0.8, 0.99);
  lru_truncated_normal_init(*layer);
  layer->to(torch::kDouble);
  layer->eval();
  const auto x = torch::randn({3, L, D}, torch::kDouble);
  auto mask = torch::ones({3, L}, torch::kBool);
  mask[1].narrow(0, 0, 3).fill_(false);
  mask[2].narrow(0, 0, 7).fill_(false);
  const auto expected = reference_layer(*layer, x, mask);
  EXPECT_TRUE(torch::allclose(layer(x, mask, LruScan::kFused), expected, 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(layer(x, mask, LruScan::kParallel), expected, 1e-10, 1e-12));
}

TEST(LruFeedForward, IsPostNormResidualWithOneGelu) {
  torch::manual_seed(12);
  LruFeedForward ffn(4, 16, 0.5);
  ffn->to(torch::kDouble);
  ffn->eval();
  const auto x = torch::randn({2, 3, 4}, torch::kDouble);
  // GELU(z) = z·Φ(z), written out.
  const auto z = torch::matmul(x, ffn->w_1->weight.t()) + ffn->w_1->bias;
  const auto gelu = z * 0.5 * (1.0 + torch::erf(z / std::sqrt(2.0)));
  const auto y = torch::matmul(gelu, ffn->w_2->weight.t()) + ffn->w_2->bias + x;
  const auto mean = y.mean(-1, true);
  const auto var = (y - mean).pow(2).mean(-1, true);
  const auto expected = (y - mean) / torch::sqrt(var + 1e-5);
  EXPECT_TRUE(torch::allclose(ffn(x), expected, 1e-10, 1e-12));
}

}  // namespace
}  // namespace llamarec
