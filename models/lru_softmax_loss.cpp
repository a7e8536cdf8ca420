#include "models/lru_softmax_loss.h"

#include "core/error.h"

namespace llamarec {
namespace {

// Rows per chunk: about 2 MiB of float32 scores, cache-resident from the scores GEMM through the
// softmax passes to the two gradient GEMMs (128 rows at V = 3,651).
int64_t chunk_rows(int64_t vocab) { return std::max<int64_t>(1, (int64_t{1} << 19) / std::max<int64_t>(1, vocab)); }

class SoftmaxCrossEntropyFunction : public torch::autograd::Function<SoftmaxCrossEntropyFunction> {
 public:
  // grad_hidden, grad_weight_bias: those gradients are made here, chunk by chunk while each chunk's
  // softmax is in cache, and the backward only scales them. The [N, V] probabilities are never held
  // whole from the forward to the backward (36 MB at N ≈ 2,500 and V = 3,651).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& weight, const torch::Tensor& bias, const torch::Tensor& targets,
                               bool mean, bool grad_hidden, bool grad_weight_bias) {
    const int64_t N = hidden.size(0), V = weight.size(0), D = hidden.size(1);
    // [h | 1] · [W | b]ᵀ: the bias rides in the GEMM as one more inner dimension, instead of
    // addmm's broadcast copy of it into every row of the scores first (a full extra pass over them).
    const auto h = torch::cat({hidden, torch::ones({N, 1}, hidden.options())}, 1);  // [N, D + 1]
    const auto t = targets.contiguous();
    const auto weight_t = torch::cat({weight, bias.unsqueeze(1)}, 1).t();  // [D + 1, V]
    const int64_t chunk = std::min(chunk_rows(V), std::max<int64_t>(N, 1));
    auto scores = torch::empty({chunk, V}, h.options());  // [chunk, V], reused by every chunk
    auto loss = torch::zeros({}, h.options().dtype(torch::kDouble));
    torch::Tensor grad_h, grad_wb;
    if (grad_hidden) grad_h = torch::empty({N, D}, h.options());  // [N, D]
    // [D + 1, V]: Wᵀ's gradient, then the bias's; summed over the chunks, so in float32 at least.
    const auto sum_type = h.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
    if (grad_weight_bias) grad_wb = torch::zeros({D + 1, V}, h.options().dtype(sum_type));
    const auto minus_one = torch::full({chunk, 1}, -1.0, h.options());
    for (int64_t r0 = 0; r0 < N; r0 += chunk) {
      const int64_t rows = std::min(chunk, N - r0);
      auto p = scores.narrow(0, 0, rows);  // [rows, V]
      const auto h_rows = h.narrow(0, r0, rows);
      at::mm_out(p, h_rows, weight_t);
      const auto target = t.narrow(0, r0, rows).unsqueeze(1);  // [rows, 1]
      const auto target_score = p.gather(1, target);           // [rows, 1]
      const auto max = p.amax(1, true);                        // [rows, 1]
      p.sub_(max).exp_();
      const auto sum = p.sum(1, true);  // [rows, 1]
      // −log p[target] = logsumexp − score[target] = max + log Σ − score[target]
      loss += (max + sum.log() - target_score).sum().to(torch::kDouble);
      if (!grad_hidden && !grad_weight_bias) continue;
      // d loss_row / d scores = softmax − one-hot
      p.div_(sum).scatter_add_(1, target, minus_one.narrow(0, 0, rows));
      if (grad_hidden) {
        auto grad_h_rows = grad_h.narrow(0, r0, rows);
        at::mm_out(grad_h_rows, p, weight);  // [rows, D]
      }
      // [h | 1]ᵀ · (softmax − one-hot): the transposed weight gradient and, in its last row, the bias
      // gradient (the column sums).
      if (grad_weight_bias) grad_wb.addmm_(h_rows.t().to(sum_type), p.to(sum_type));
    }
    ctx->saved_data["mean"] = mean;
    ctx->saved_data["rows"] = N;
    // The inputs too, unused: changing one in place before the backward then fails LibTorch's
    // version check instead of leaving these gradients stale.
    ctx->save_for_backward({grad_h, grad_wb, hidden, weight, bias});
    const auto total = mean && N > 0 ? loss / static_cast<double>(N) : loss;
    return total.to(h.scalar_type());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    if (torch::GradMode::is_enabled())
      fail("lru_softmax_cross_entropy: first-order gradients only (backward with create_graph)");
    const auto saved = ctx->get_saved_variables();
    const auto& grad_h = saved[0];   // [N, D]
    const auto& grad_wb = saved[1];  // [D + 1, V]
    const auto dtype = saved[3].scalar_type();
    const int64_t N = ctx->saved_data["rows"].toInt(), D = saved[3].size(1);
    const auto scale = ctx->saved_data["mean"].toBool() && N > 0 ? grads[0] / static_cast<double>(N) : grads[0];
    torch::Tensor none;
    return {ctx->needs_input_grad(0) ? grad_h * scale : none,
            ctx->needs_input_grad(1) ? (grad_wb.narrow(0, 0, D) * scale).t().to(dtype) : none,  // [V, D]
            ctx->needs_input_grad(2) ? (grad_wb.select(0, D) * scale).to(dtype) : none,         // [V]
            none,
            none,
            none,
            none};
  }
};

}  // namespace

torch::Tensor lru_softmax_cross_entropy(const torch::Tensor& hidden, const torch::Tensor& weight,
                                        const torch::Tensor& bias, const torch::Tensor& targets, bool mean) {
  if (hidden.dim() != 2 || weight.dim() != 2 || hidden.size(1) != weight.size(1))
    fail("lru_softmax_cross_entropy: hidden [N, D] {} and weight [V, D] {} do not match", c10::str(hidden.sizes()),
         c10::str(weight.sizes()));
  if (bias.dim() != 1 || bias.size(0) != weight.size(0))
    fail("lru_softmax_cross_entropy: bias must be [V] = [{}], got {}", weight.size(0), c10::str(bias.sizes()));
  if (targets.dim() != 1 || targets.size(0) != hidden.size(0) || targets.scalar_type() != torch::kLong)
    fail("lru_softmax_cross_entropy: targets must be int64 [N] = [{}], got {} {}", hidden.size(0),
         c10::toString(targets.scalar_type()), c10::str(targets.sizes()));
  if (hidden.scalar_type() != weight.scalar_type() || bias.scalar_type() != weight.scalar_type())
    fail("lru_softmax_cross_entropy: hidden, weight and bias must share a dtype");
  if (targets.numel() > 0) {
    const auto lo = targets.min().item<int64_t>(), hi = targets.max().item<int64_t>();
    if (lo < 0 || hi >= weight.size(0))
      fail("lru_softmax_cross_entropy: targets in [{}, {}] outside [0, {})", lo, hi, weight.size(0));
  }
  const bool grad_mode = torch::GradMode::is_enabled();
  return SoftmaxCrossEntropyFunction::apply(hidden, weight, bias, targets, mean, grad_mode && hidden.requires_grad(),
                                            grad_mode && (weight.requires_grad() || bias.requires_grad()));
}

}  // namespace llamarec
