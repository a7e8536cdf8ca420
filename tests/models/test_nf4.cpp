// NF4 quantization (models/nf4.h): the codebook against QLoRA's definition, packing and double
// quantization on hand-computed cases, the error bound the block absmax implies, and agreement with
// an independent scalar implementation written here from the paper's definition.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "models/nf4.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

// Φ⁻¹(p) by bisection on std::erfc: slow, simple, and accurate to double precision.
double normal_quantile(double p) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

// QLoRA Appendix E (bitsandbytes' create_normal_map(offset=0.9677083, use_extra_value=True)):
// the positive half is Φ⁻¹ at linspace(offset, 0.5, 9)[:-1], the negative half -Φ⁻¹ at
// linspace(offset, 0.5, 8)[:-1], plus 0, sorted and divided by the largest value.
std::vector<double> codebook_from_definition() {
  const double offset = 0.9677083;
  std::vector<double> v = {0.0};
  for (int i = 0; i < 8; ++i) v.push_back(normal_quantile(offset + i * (0.5 - offset) / 8));
  for (int i = 0; i < 7; ++i) v.push_back(-normal_quantile(offset + i * (0.5 - offset) / 7));
  std::sort(v.begin(), v.end());
  const double top = v.back();
  for (auto& x : v) x /= top;
  return v;
}

TEST(Nf4, CodebookIsQloraNormalFloat) {
  const auto expected = codebook_from_definition();
  const auto& cb = nf4_codebook();
  ASSERT_EQ(expected.size(), cb.size());
  // bitsandbytes evaluates the probabilities in float32 (torch.linspace): ~2e-7 away at most.
  for (size_t i = 0; i < cb.size(); ++i) EXPECT_NEAR(cb[i], expected[i], 1e-6) << "code " << i;
  EXPECT_EQ(cb[0], -1.0f);
  EXPECT_EQ(cb[7], 0.0f);
  EXPECT_EQ(cb[15], 1.0f);
  EXPECT_TRUE(std::is_sorted(cb.begin(), cb.end()));
}

TEST(Nf4, PacksTwoCodesPerByteHighNibbleFirst) {
  const auto& cb = nf4_codebook();
  auto x = torch::zeros({kNf4GroupSize});
  // Block 0, absmax 2: -2 -> code 0, 2 -> 15, 0 -> 7, 2 * cb[9] -> 9, just below the midpoint of
  // codes 12 and 13 -> 12, exactly on it -> 12 (ties go to the lower code), just above -> 13.
  const float mid = (cb[12] + cb[13]) / 2;
  const std::vector<float> head = {
      -2, 2, 0, 2 * cb[9], 2 * std::nextafter(mid, 0.f), 2 * mid, 2 * std::nextafter(mid, 1.f), 0};
  for (size_t i = 0; i < head.size(); ++i) x[static_cast<int64_t>(i)] = head[i];
  const auto q = quantize_nf4(x);
  ASSERT_EQ(q.codes.numel(), kNf4GroupSize / 2);
  ASSERT_EQ(q.codes.scalar_type(), torch::kUInt8);
  const std::vector<int> expected = {0x0F, 0x79, 0xCC, 0xD7, 0x77};
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(q.codes[static_cast<int64_t>(i)].item<int>(), expected[i]) << "byte " << i;
  // Every other block is all zeros: absmax 0, every code 7 (the value 0).
  EXPECT_EQ(q.codes[40].item<int>(), 0x77);
  const auto back = dequantize_nf4(q);
  EXPECT_EQ(back.narrow(0, kNf4BlockSize, kNf4GroupSize - kNf4BlockSize).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(back[0].item<float>(), -nf4_block_absmax(q)[0].item<float>());
}

TEST(Nf4, DoubleQuantizationOfTheAbsmaxes) {
  // 256 blocks: the first with absmax 3, the others 1. Offset = mean = (3 + 255) / 256; scale =
  // (3 - offset) / 127; block 0 -> code 127 (exact), the others round((1 - offset) / scale) =
  // round(-0.498) = 0 -> offset, 0.0078125 above their absmax: within scale / 2.
  auto x = torch::zeros({kNf4GroupSize});
  for (int64_t b = 0; b < kNf4GroupBlocks; ++b) x[b * kNf4BlockSize] = b == 0 ? 3.0 : -1.0;
  const auto q = quantize_nf4(x);
  const double offset = (3.0 + 255.0) / 256.0, scale = (3.0 - offset) / 127.0;
  EXPECT_NEAR(q.group_offset[0].item<double>(), offset, 1e-7);
  EXPECT_NEAR(q.group_scale[0].item<double>(), scale, 1e-7);
  EXPECT_EQ(q.absmax_codes[0].item<int>(), 127);
  EXPECT_EQ(q.absmax_codes[1].item<int>(), 0);
  const auto absmax = nf4_block_absmax(q);
  EXPECT_NEAR(absmax[0].item<double>(), 3.0, 1e-6);
  EXPECT_NEAR(absmax[5].item<double>(), offset, 1e-7);
  // A group whose absmaxes are all equal: scale 1 (nothing to spread), codes 0, exact.
  const auto flat = quantize_nf4(torch::full({kNf4GroupSize}, 0.25));
  EXPECT_EQ(flat.absmax_codes.abs().max().item<int>(), 0);
  EXPECT_TRUE(torch::equal(dequantize_nf4(flat), torch::full({kNf4GroupSize}, 0.25)));
}

// Heavy-tailed test data: normal, Student-t with 3 degrees of freedom, a few large outliers.
torch::Tensor test_values(int64_t groups, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  const int64_t n = groups * kNf4GroupSize;
  auto normal = at::normal(0.0, 0.02, {n}, gen);
  const auto chi2 = at::normal(0.0, 1.0, {3, n}, gen).pow(2).sum(0) / 3;
  auto student = at::normal(0.0, 0.02, {n}, gen) / chi2.sqrt();
  auto x = torch::where(torch::arange(n) < n / 2, normal, student);
  x.index_put_({torch::randint(n, {20}, gen, torch::kLong)}, 1.5);
  return x;
}

TEST(Nf4, ErrorWithinTheBoundTheBlockAbsmaxImplies) {
  const auto x = test_values(4, 1);
  const auto q = quantize_nf4(x);
  const auto back = dequantize_nf4(q);
  const auto blocks = x.view({-1, kNf4BlockSize});
  const auto absmax = blocks.abs().amax(1);     // exact
  const auto absmax_hat = nf4_block_absmax(q);  // after double quantization
  // The absmax is off by at most half its group's int8 step.
  const auto scale = q.group_scale.repeat_interleave(kNf4GroupBlocks);
  EXPECT_TRUE(((absmax - absmax_hat).abs() <= scale * 0.5 * (1 + 1e-5) + 1e-9).all().item<bool>());
  // Each value: x - x̂ = absmax (x/absmax - c) + (absmax - absmax_hat) c with |c| <= 1, and
  // |x/absmax - c| at most half the widest codebook gap.
  const auto& cb = nf4_codebook();
  float half_gap = 0;
  for (size_t i = 0; i + 1 < cb.size(); ++i) half_gap = std::max(half_gap, (cb[i + 1] - cb[i]) / 2);
  const auto bound = (absmax * half_gap + (absmax - absmax_hat).abs()).unsqueeze(1) * (1 + 1e-5) + 1e-9;
  const auto err = (blocks - back.view({-1, kNf4BlockSize})).abs();
  EXPECT_TRUE((err <= bound).all().item<bool>()) << "worst excess " << (err - bound).max().item<double>();
  // And the block maximum itself is reproduced up to the absmax error (codes 0 / 15 are ±1).
  EXPECT_LT((back.view({-1, kNf4BlockSize}).abs().amax(1) - absmax_hat).abs().max().item<double>(), 1e-6);
}

// The algorithm written again, scalar and in double, from its definition.
struct ReferenceNf4 {
  std::vector<int> codes;            // per value
  std::vector<bool> code_ambiguous;  // the two nearest codebook values (almost) tie
  std::vector<int> absmax_codes;     // per block
  std::vector<bool> absmax_ambiguous;
  std::vector<double> values;  // dequantized
};

ReferenceNf4 reference_nf4(const std::vector<float>& x) {
  const auto& cb = nf4_codebook();
  ReferenceNf4 r;
  const size_t blocks = x.size() / kNf4BlockSize;
  std::vector<double> absmax(blocks, 0.0);
  for (size_t b = 0; b < blocks; ++b)
    for (int64_t i = 0; i < kNf4BlockSize; ++i) absmax[b] = std::max(absmax[b], std::fabs(double(x[b * 64 + i])));
  for (size_t k = 0; k < x.size(); ++k) {
    const double a = absmax[k / kNf4BlockSize];
    const double v = a > 0 ? x[k] / a : 0.0;
    std::vector<double> d(16);
    for (int j = 0; j < 16; ++j) d[j] = std::fabs(v - cb[j]);
    const int best = static_cast<int>(std::min_element(d.begin(), d.end()) - d.begin());
    double second = 1e9;
    for (int j = 0; j < 16; ++j)
      if (j != best) second = std::min(second, d[j]);
    r.codes.push_back(best);
    r.code_ambiguous.push_back(second - d[best] < 1e-6);
  }
  std::vector<double> absmax_hat(blocks);
  for (size_t g = 0; g < blocks / kNf4GroupBlocks; ++g) {
    double offset = 0, spread = 0;
    for (int64_t j = 0; j < kNf4GroupBlocks; ++j) offset += absmax[g * 256 + j] / kNf4GroupBlocks;
    for (int64_t j = 0; j < kNf4GroupBlocks; ++j) spread = std::max(spread, std::fabs(absmax[g * 256 + j] - offset));
    const double scale = spread > 0 ? spread / 127 : 1.0;
    for (int64_t j = 0; j < kNf4GroupBlocks; ++j) {
      const double t = (absmax[g * 256 + j] - offset) / scale;
      const int c = static_cast<int>(std::nearbyint(t));
      r.absmax_codes.push_back(c);
      r.absmax_ambiguous.push_back(std::fabs(std::fabs(t - std::trunc(t)) - 0.5) < 1e-3);
      absmax_hat[g * 256 + j] = std::max(0.0, offset + c * scale);
    }
  }
  for (size_t k = 0; k < x.size(); ++k) r.values.push_back(cb[r.codes[k]] * absmax_hat[k / kNf4BlockSize]);
  return r;
}

TEST(Nf4, AgreesWithAnIndependentImplementation) {
  const auto x = test_values(3, 2);
  const std::vector<float> xs(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  const auto ref = reference_nf4(xs);
  const auto q = quantize_nf4(x);
  const auto back = dequantize_nf4(q);
  const auto bytes = q.codes.accessor<uint8_t, 1>();
  const auto absmax_codes = q.absmax_codes.accessor<int8_t, 1>();
  const auto values = back.accessor<float, 1>();
  int64_t ambiguous = 0, code_mismatch = 0, absmax_mismatch = 0, value_mismatch = 0;
  for (int64_t k = 0; k < x.numel(); ++k) {
    const int code = k % 2 == 0 ? bytes[k / 2] >> 4 : bytes[k / 2] & 15;
    if (ref.code_ambiguous[k]) {
      ++ambiguous;
      continue;
    }
    code_mismatch += code != ref.codes[k];
    if (!ref.absmax_ambiguous[k / kNf4BlockSize] && code == ref.codes[k])
      value_mismatch += std::fabs(values[k] - ref.values[k]) > 1e-5 * std::fabs(ref.values[k]) + 1e-9;
  }
  for (int64_t b = 0; b < q.absmax_codes.numel(); ++b)
    if (!ref.absmax_ambiguous[b]) absmax_mismatch += absmax_codes[b] != ref.absmax_codes[b];
  EXPECT_EQ(code_mismatch, 0);
  EXPECT_EQ(absmax_mismatch, 0);
  EXPECT_EQ(value_mismatch, 0);
  EXPECT_LT(ambiguous, x.numel() / 1000) << "too many near-ties to be a meaningful comparison";
}

TEST(Nf4, PackedFormRoundTripsAndDequantizesIntoAnyDtype) {
  const auto x = test_values(2, 3);
  const auto q = quantize_nf4(x);
  const auto packed = nf4_pack(q);
  ASSERT_EQ(packed.numel(), nf4_packed_bytes(x.numel()));
  EXPECT_EQ(nf4_packed_bytes(kNf4GroupSize), 8192 + 256 + 8);  // 4.129 bits per value
  const auto u = nf4_unpack(packed, x.numel());
  EXPECT_TRUE(torch::equal(u.codes, q.codes));
  EXPECT_TRUE(torch::equal(u.absmax_codes, q.absmax_codes));
  EXPECT_TRUE(torch::equal(u.group_scale, q.group_scale));
  EXPECT_TRUE(torch::equal(u.group_offset, q.group_offset));
  const auto fp32 = dequantize_nf4(u);
  EXPECT_TRUE(torch::equal(fp32, dequantize_nf4(q)));
  EXPECT_TRUE(torch::equal(dequantize_nf4(q, torch::kBFloat16), fp32.to(torch::kBFloat16)));
  // Relative RMS error of NF4 on normal weights (reported, loosely bounded).
  const auto normal = x.narrow(0, 0, kNf4GroupSize);
  const double rel =
      ((dequantize_nf4(quantize_nf4(normal)) - normal).pow(2).mean() / normal.pow(2).mean()).sqrt().item<double>();
  EXPECT_LT(rel, 0.15);
}

TEST(Nf4, RejectsWhatItCannotQuantize) {
  EXPECT_CONTAINS(testing::error_of([] { quantize_nf4(torch::zeros({100})); }), "multiple of 16384");
  auto x = torch::zeros({kNf4GroupSize});
  x[3] = std::nanf("");
  EXPECT_CONTAINS(testing::error_of([&] { quantize_nf4(x); }), "not all finite");
  EXPECT_CONTAINS(testing::error_of([] { nf4_unpack(torch::zeros({10}, torch::kUInt8), kNf4GroupSize); }),
                  "expected 8456 contiguous bytes");
}

}  // namespace
}  // namespace llamarec
