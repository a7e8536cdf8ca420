#include "pipelines/training/fused_adamw.h"

#include <cmath>

#include "core/error.h"
#include "models/lru_simd.h"
#include "pipelines/training/optimizer_state.h"

namespace llamarec {
namespace {

struct AdamWScalars {
  float decay;  // 1 − lr · weight_decay
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float sqrt_bias_correction2, eps, neg_step_size;
};

LLAMAREC_ALWAYS_INLINE void adamw_loop(float* __restrict p, const float* __restrict g, float* __restrict m,
                                       float* __restrict v, int64_t n, const AdamWScalars s) {
  for (int64_t i = 0; i < n; ++i) {
    const float grad = g[i];
    const float exp_avg = m[i] * s.beta1 + s.one_minus_beta1 * grad;
    const float exp_avg_sq = v[i] * s.beta2 + s.one_minus_beta2 * grad * grad;
    m[i] = exp_avg;
    v[i] = exp_avg_sq;
    const float denom = std::sqrt(exp_avg_sq) / s.sqrt_bias_correction2 + s.eps;
    p[i] = p[i] * s.decay + s.neg_step_size * exp_avg / denom;
  }
}

LLAMAREC_SIMD_CLONES void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, AdamWScalars s) {
  adamw_loop(p, g, m, v, n, s);
}

bool fusable(const torch::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat && t.is_contiguous() && !t.is_sparse();
}

}  // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    if (options.amsgrad()) fail("FusedAdamW: amsgrad is not supported");
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const auto& grad = p.grad();
      const auto key = optimizer_state_key(p);
      auto it = state().find(key);
      if (it == state().end()) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state().emplace(key, std::move(fresh)).first;
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
      s.step(s.step() + 1);
      const auto [beta1, beta2] = options.betas();
      const double bias_correction1 = 1 - std::pow(beta1, s.step());
      const double bias_correction2 = 1 - std::pow(beta2, s.step());
      const double decay = 1 - options.lr() * options.weight_decay();
      const double step_size = options.lr() / bias_correction1;
      auto& exp_avg = s.exp_avg();
      auto& exp_avg_sq = s.exp_avg_sq();
      if (fusable(p) && fusable(grad) && fusable(exp_avg) && fusable(exp_avg_sq)) {
        const AdamWScalars scalars{static_cast<float>(decay),         static_cast<float>(beta1),
                                   static_cast<float>(1 - beta1),     static_cast<float>(beta2),
                                   static_cast<float>(1 - beta2),     static_cast<float>(std::sqrt(bias_correction2)),
                                   static_cast<float>(options.eps()), static_cast<float>(-step_size)};
        adamw_update(p.data_ptr<float>(), grad.data_ptr<float>(), exp_avg.data_ptr<float>(),
                     exp_avg_sq.data_ptr<float>(), p.numel(), scalars);
        continue;
      }
      // LibTorch's AdamW::step, op for op.
      if (options.weight_decay() != 0) p.mul_(decay);
      exp_avg.mul_(beta1).add_(grad, 1 - beta1);
      exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
      const auto denom = (exp_avg_sq.sqrt() / std::sqrt(bias_correction2)).add_(options.eps());
      p.addcdiv_(exp_avg, denom, -step_size);
    }
  }
  return loss;
}

}  // namespace llamarec
