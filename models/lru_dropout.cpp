#include "models/lru_dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <limits>
#include <mutex>

#include "core/error.h"
#include "models/lru_simd.h"

namespace llamarec {
namespace {

// A 32-bit integer hash with full avalanche ("lowbias32", C. Wellons); multiplies and shifts only,
// so the mask loop vectorises.
LLAMAREC_ALWAYS_INLINE uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// out[i] = keep(i) ? in[i] · scale : 0 with keep(i) = hash(seed, i) ≥ threshold, for i in [begin,
// end); the same mask in the forward and the backward (in = x or the incoming gradient). Branch-free
// so that it vectorises.
template <typename T>
LLAMAREC_ALWAYS_INLINE void masked_scale(const T* in, T* out, int64_t begin, int64_t end, uint64_t seed,
                                         uint32_t threshold, T scale) {
  const auto seed_lo = static_cast<uint32_t>(seed), seed_hi = static_cast<uint32_t>(seed >> 32);
  for (int64_t i = begin; i < end; ++i) {
    const uint32_t r = mix32(mix32(static_cast<uint32_t>(i) ^ seed_lo) + seed_hi);
    const T factor = r >= threshold ? scale : T(0);
    out[i] = in[i] * factor;
  }
}

LLAMAREC_SIMD_CLONES void masked_scale_rows(const float* in, float* out, int64_t begin, int64_t end, uint64_t seed,
                                            uint32_t threshold, float scale) {
  masked_scale(in, out, begin, end, seed, threshold, scale);
}

LLAMAREC_SIMD_CLONES void masked_scale_rows(const double* in, double* out, int64_t begin, int64_t end, uint64_t seed,
                                            uint32_t threshold, double scale) {
  masked_scale(in, out, begin, end, seed, threshold, scale);
}

torch::Tensor apply_mask(const torch::Tensor& input, uint64_t seed, double p) {
  const auto in = input.contiguous();
  auto out = torch::empty_like(in);
  // keep with probability 1 − p: r ≥ p·2^32 for r uniform on [0, 2^32)
  const auto threshold = static_cast<uint32_t>(std::min(p * 4294967296.0, 4294967295.0));
  AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "lru_dropout", [&] {
    const scalar_t* src = in.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    const auto scale = static_cast<scalar_t>(1.0 / (1.0 - p));
    at::parallel_for(0, in.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
      masked_scale_rows(src, dst, begin, end, seed, threshold, scale);
    });
  });
  return out;
}

class DropoutFunction : public torch::autograd::Function<DropoutFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, double p) {
    uint64_t seed = 0;
    {
      at::Generator generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      seed = generator.get<at::CPUGeneratorImpl>()->random64();
    }
    ctx->saved_data["seed"] = static_cast<int64_t>(seed);
    ctx->saved_data["p"] = p;
    return apply_mask(x, seed, p);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
    return {apply_mask(grads[0], seed, ctx->saved_data["p"].toDouble()), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor lru_dropout(const torch::Tensor& x, double p, bool training) {
  if (!(p >= 0.0 && p < 1.0)) fail("lru_dropout: p must be in [0, 1), got {}", p);
  if (!training || p == 0.0) return x;
  const bool fast = x.device().is_cpu() && (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble) &&
                    x.numel() < (int64_t{1} << 32);
  return fast ? DropoutFunction::apply(x, p) : torch::dropout(x, p, true);
}

}  // namespace llamarec
