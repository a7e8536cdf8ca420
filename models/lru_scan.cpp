#include "models/lru_scan.h"

#include <ATen/Dispatch.h>
#include <algorithm>
#include <ATen/Parallel.h>

#include "core/error.h"
#include "models/lru_simd.h"

namespace llamarec {
namespace {

void check_scan_inputs(const char* name, const torch::Tensor& h, const torch::Tensor& lambda,
                       const torch::Tensor& mask) {
  if (h.dim() != 3 || h.size(2) % 2 != 0)
    fail("{}: h must be [B, L, 2H] (real | imag halves), got {}", name, c10::str(h.sizes()));
  if (lambda.dim() != 1 || lambda.size(0) != h.size(2))
    fail("{}: lambda must be [2H] = [{}], got {}", name, h.size(2), c10::str(lambda.sizes()));
  if (mask.dim() != 2 || mask.size(0) != h.size(0) || mask.size(1) != h.size(1))
    fail("{}: mask must be [B, L] = [{}, {}], got {}", name, h.size(0), h.size(1), c10::str(mask.sizes()));
  if (lambda.scalar_type() != h.scalar_type())
    fail("{}: h is {} but lambda is {}", name, c10::toString(h.scalar_type()), c10::toString(lambda.scalar_type()));
  if (lambda.device() != h.device() || mask.device() != h.device())
    fail("{}: h, lambda and mask must be on one device", name);
}

// One time step for H channels: out = λ ⊙ prev + x on [real | imag] halves.
template <typename T>
LLAMAREC_ALWAYS_INLINE void forward_step(const T* __restrict prev, const T* __restrict x, const T* __restrict lr,
                                         const T* __restrict li, T* __restrict out, int64_t H) {
  for (int64_t k = 0; k < H; ++k) {
    const T pr = prev[k], pi = prev[H + k];
    out[k] = lr[k] * pr - li[k] * pi + x[k];
    out[H + k] = lr[k] * pi + li[k] * pr + x[H + k];
  }
}

// Adjoint step: a = g + conj(λ) ⊙ next, where next is the adjoint of the following time step.
template <typename T>
LLAMAREC_ALWAYS_INLINE void backward_step(const T* __restrict next, const T* __restrict g, const T* __restrict lr,
                                          const T* __restrict li, T* __restrict a, int64_t H) {
  for (int64_t k = 0; k < H; ++k) {
    const T nr = next[k], ni = next[H + k];
    a[k] = lr[k] * nr + li[k] * ni + g[k];
    a[H + k] = lr[k] * ni - li[k] * nr + g[H + k];
  }
}

// dL/dλ += conj(h_{t-1}) ⊙ a_t: the state that λ multiplied, against the adjoint it fed.
template <typename T>
LLAMAREC_ALWAYS_INLINE void accumulate_lambda_grad(const T* __restrict prev, const T* __restrict a, T* __restrict acc,
                                                   int64_t H) {
  for (int64_t k = 0; k < H; ++k) {
    const T pr = prev[k], pi = prev[H + k], ar = a[k], ai = a[H + k];
    acc[k] += pr * ar + pi * ai;
    acc[H + k] += pr * ai - pi * ar;
  }
}

// Rows of the batch are independent; split them so that each task has some thousands of values.
int64_t batch_grain(int64_t L, int64_t H) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, L * H)); }

// Rows [begin, end): row b is the positions [starts[b], starts[b+1]) of the flat [N, 2H] layout, a
// sequential loop over them, vectorised over the 2H values of a step. Position j takes the state of
// j - 1 where mask[j - 1] (it is in the same row and holds an item).
template <typename T>
LLAMAREC_ALWAYS_INLINE void forward_rows(const T* x, const T* lambda, const bool* mask, const int64_t* starts, T* out,
                                         int64_t begin, int64_t end, int64_t H) {
  const T* lr = lambda;
  const T* li = lambda + H;
  for (int64_t b = begin; b < end; ++b) {
    for (int64_t j = starts[b]; j < starts[b + 1]; ++j) {
      const int64_t offset = j * 2 * H;
      if (j > starts[b] && mask[j - 1]) {
        forward_step(out + offset - 2 * H, x + offset, lr, li, out + offset, H);
      } else {
        std::copy(x + offset, x + offset + 2 * H, out + offset);
      }
    }
  }
}

// grad_h = reverse scan of grad_out with conj(λ); lambda_partial[b] = Σ_j m_{j-1} conj(h_{j-1}) a_j.
template <typename T>
LLAMAREC_ALWAYS_INLINE void backward_rows(const T* grad_out, const T* out, const T* lambda, const bool* mask,
                                          const int64_t* starts, T* grad_h, T* lambda_partial, int64_t begin,
                                          int64_t end, int64_t H) {
  const T* lr = lambda;
  const T* li = lambda + H;
  for (int64_t b = begin; b < end; ++b) {
    T* acc = lambda_partial + b * 2 * H;
    for (int64_t j = starts[b + 1] - 1; j >= starts[b]; --j) {
      const int64_t offset = j * 2 * H;
      if (j + 1 < starts[b + 1] && mask[j]) {
        backward_step(grad_h + offset + 2 * H, grad_out + offset, lr, li, grad_h + offset, H);
      } else {
        std::copy(grad_out + offset, grad_out + offset + 2 * H, grad_h + offset);
      }
      if (j > starts[b] && mask[j - 1]) accumulate_lambda_grad(out + offset - 2 * H, grad_h + offset, acc, H);
    }
  }
}

LLAMAREC_SIMD_CLONES void scan_forward_rows(const float* x, const float* lambda, const bool* mask,
                                            const int64_t* starts, float* out, int64_t begin, int64_t end, int64_t H) {
  forward_rows(x, lambda, mask, starts, out, begin, end, H);
}

LLAMAREC_SIMD_CLONES void scan_forward_rows(const double* x, const double* lambda, const bool* mask,
                                            const int64_t* starts, double* out, int64_t begin, int64_t end, int64_t H) {
  forward_rows(x, lambda, mask, starts, out, begin, end, H);
}

LLAMAREC_SIMD_CLONES void scan_backward_rows(const float* grad_out, const float* out, const float* lambda,
                                             const bool* mask, const int64_t* starts, float* grad_h,
                                             float* lambda_partial, int64_t begin, int64_t end, int64_t H) {
  backward_rows(grad_out, out, lambda, mask, starts, grad_h, lambda_partial, begin, end, H);
}

LLAMAREC_SIMD_CLONES void scan_backward_rows(const double* grad_out, const double* out, const double* lambda,
                                             const bool* mask, const int64_t* starts, double* grad_h,
                                             double* lambda_partial, int64_t begin, int64_t end, int64_t H) {
  backward_rows(grad_out, out, lambda, mask, starts, grad_h, lambda_partial, begin, end, H);
}

// On the flat layout: h [N, 2H], mask [N] bool, starts [B + 1] int64 (row b is [starts[b],
// starts[b + 1])). The dense [B, L] case is starts = 0, L, 2L, ...
class FusedScanFunction : public torch::autograd::Function<FusedScanFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& h,
                               const torch::Tensor& lambda, const torch::Tensor& mask, const torch::Tensor& starts) {
    const auto x = h.contiguous();
    const auto lam = lambda.contiguous();
    const auto m = mask.to(torch::kBool).contiguous();
    const auto row_starts = starts.to(torch::kLong).contiguous();
    const int64_t B = row_starts.size(0) - 1, H = x.size(1) / 2;
    auto out = torch::empty_like(x);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lru_fused_scan_forward", [&] {
      const scalar_t* src = x.data_ptr<scalar_t>();
      const scalar_t* lambda_data = lam.data_ptr<scalar_t>();
      const bool* mask_data = m.data_ptr<bool>();
      const int64_t* starts_data = row_starts.data_ptr<int64_t>();
      scalar_t* dst = out.data_ptr<scalar_t>();
      at::parallel_for(0, B, batch_grain(x.size(0) / std::max<int64_t>(1, B), H), [&](int64_t begin, int64_t end) {
        scan_forward_rows(src, lambda_data, mask_data, starts_data, dst, begin, end, H);
      });
    });
    ctx->save_for_backward({out, lam, m, row_starts});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    if (!grads[0].defined()) return {torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
    const auto saved = ctx->get_saved_variables();
    const auto& out = saved[0];
    const auto& lam = saved[1];
    const auto& m = saved[2];
    const auto& row_starts = saved[3];
    const auto grad_out = grads[0].contiguous();
    const int64_t B = row_starts.size(0) - 1, H = out.size(1) / 2;
    auto grad_h = torch::empty_like(out);
    auto lambda_partial = torch::zeros({B, 2 * H}, out.options());  // [B, 2H]
    AT_DISPATCH_FLOATING_TYPES(out.scalar_type(), "lru_fused_scan_backward", [&] {
      const scalar_t* grad_data = grad_out.data_ptr<scalar_t>();
      const scalar_t* out_data = out.data_ptr<scalar_t>();
      const scalar_t* lambda_data = lam.data_ptr<scalar_t>();
      const bool* mask_data = m.data_ptr<bool>();
      const int64_t* starts_data = row_starts.data_ptr<int64_t>();
      scalar_t* grad_h_data = grad_h.data_ptr<scalar_t>();
      scalar_t* partial_data = lambda_partial.data_ptr<scalar_t>();
      at::parallel_for(0, B, batch_grain(out.size(0) / std::max<int64_t>(1, B), H), [&](int64_t begin, int64_t end) {
        scan_backward_rows(grad_data, out_data, lambda_data, mask_data, starts_data, grad_h_data, partial_data, begin,
                           end, H);
      });
    });
    return {grad_h, lambda_partial.sum(0), torch::Tensor(), torch::Tensor()};
  }
};

void check_fused_scan_dtype(const char* name, const torch::Tensor& h) {
  if (!h.device().is_cpu()) fail("{}: CPU tensors only, got {} (use the parallel scan)", name, h.device().str());
  if (h.scalar_type() != torch::kFloat && h.scalar_type() != torch::kDouble)
    fail("{}: float32 or float64 only, got {}", name, c10::toString(h.scalar_type()));
}

}  // namespace

torch::Tensor lru_parallel_scan(const torch::Tensor& h, const torch::Tensor& lambda, const torch::Tensor& mask) {
  check_scan_inputs("lru_parallel_scan", h, lambda, mask);
  const int64_t B = h.size(0), L = h.size(1), H = h.size(2) / 2;
  if (L < 1 || (L & (L - 1)) != 0)
    fail("lru_parallel_scan: the length must be a power of two (left-pad the sequence), got {}", L);
  auto halves = h.chunk(2, -1);
  torch::Tensor hr = halves[0], hi = halves[1];  // [B, L, H]
  const auto lam = lambda.view({2, H});
  torch::Tensor lr = lam[0].unsqueeze(0), li = lam[1].unsqueeze(0);  // [n, H] = λ^1..λ^n
  const auto m = mask.to(h.scalar_type());                           // [B, L]
  // Pass l merges neighbouring blocks of l/2: the right block adds λ^{1..l/2} times the carry (last
  // state of the left block), unless that carry position is padding.
  for (int64_t l = 2; l <= L; l *= 2) {
    const int64_t half = l / 2, rows = B * L / l;
    hr = hr.reshape({rows, l, H});
    hi = hi.reshape({rows, l, H});
    if (l > 2) {
      const auto last_r = lr.narrow(0, lr.size(0) - 1, 1), last_i = li.narrow(0, li.size(0) - 1, 1);
      const auto next_r = lr * last_r - li * last_i, next_i = lr * last_i + li * last_r;
      lr = torch::cat({lr, next_r}, 0);
      li = torch::cat({li, next_i}, 0);
    }
    const auto gate = m.reshape({rows, l}).narrow(1, half - 1, 1).unsqueeze(-1);  // [rows, 1, 1]
    const auto h1r = hr.narrow(1, 0, half), h1i = hi.narrow(1, 0, half);
    const auto carry_r = h1r.narrow(1, half - 1, 1) * gate, carry_i = h1i.narrow(1, half - 1, 1) * gate;
    const auto h2r = hr.narrow(1, half, half) + (lr * carry_r - li * carry_i);
    const auto h2i = hi.narrow(1, half, half) + (lr * carry_i + li * carry_r);
    hr = torch::cat({h1r, h2r}, 1);
    hi = torch::cat({h1i, h2i}, 1);
  }
  return torch::cat({hr.reshape({B, L, H}), hi.reshape({B, L, H})}, -1);
}

torch::Tensor lru_fused_scan(const torch::Tensor& h, const torch::Tensor& lambda, const torch::Tensor& mask) {
  check_scan_inputs("lru_fused_scan", h, lambda, mask);
  check_fused_scan_dtype("lru_fused_scan", h);
  const int64_t B = h.size(0), L = h.size(1);
  const auto starts = L > 0 ? torch::arange(0, B * L + 1, L, torch::kLong) : torch::zeros({B + 1}, torch::kLong);
  return FusedScanFunction::apply(h.reshape({B * L, h.size(2)}), lambda, mask.reshape({B * L}), starts).view(h.sizes());
}

torch::Tensor lru_fused_scan_packed(const torch::Tensor& h, const torch::Tensor& lambda, const torch::Tensor& carry,
                                    const torch::Tensor& row_starts) {
  const char* name = "lru_fused_scan_packed";
  if (h.dim() != 2 || h.size(1) % 2 != 0)
    fail("{}: h must be [T, 2H] (real | imag halves), got {}", name, c10::str(h.sizes()));
  if (lambda.dim() != 1 || lambda.size(0) != h.size(1))
    fail("{}: lambda must be [2H] = [{}], got {}", name, h.size(1), c10::str(lambda.sizes()));
  if (carry.dim() != 1 || carry.size(0) != h.size(0))
    fail("{}: carry must be [T] = [{}], got {}", name, h.size(0), c10::str(carry.sizes()));
  if (row_starts.dim() != 1 || row_starts.size(0) < 1 || row_starts.scalar_type() != torch::kLong)
    fail("{}: row_starts must be [B + 1] int64, got {} {}", name, c10::str(row_starts.sizes()),
         c10::toString(row_starts.scalar_type()));
  if (lambda.scalar_type() != h.scalar_type())
    fail("{}: h is {} but lambda is {}", name, c10::toString(h.scalar_type()), c10::toString(lambda.scalar_type()));
  check_fused_scan_dtype(name, h);
  if (!lambda.device().is_cpu() || !carry.device().is_cpu() || !row_starts.device().is_cpu())
    fail("{}: h, lambda, carry and row_starts must all be CPU tensors", name);
  // The kernel trusts the row bounds: first 0, last T, never decreasing.
  const auto s = row_starts.contiguous();
  const int64_t* p = s.data_ptr<int64_t>();
  const int64_t rows = s.size(0) - 1;
  if (p[0] != 0 || p[rows] != h.size(0))
    fail("{}: row_starts must run from 0 to T = {}, got {} to {}", name, h.size(0), p[0], p[rows]);
  for (int64_t b = 0; b < rows; ++b) {
    if (p[b + 1] < p[b]) fail("{}: row_starts must not decrease (row {}: {} then {})", name, b, p[b], p[b + 1]);
  }
  return FusedScanFunction::apply(h, lambda, carry, s);
}

}  // namespace llamarec
