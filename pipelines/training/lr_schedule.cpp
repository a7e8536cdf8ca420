#include "pipelines/training/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace llamarec {

double LrSchedule::at(int64_t step) const {
  if (kind == LrScheduleKind::kConstant) return lr;
  if (step < warmup_steps) return lr * static_cast<double>(step) / static_cast<double>(warmup_steps);
  // Fraction of the decay done, in [0, 1].
  const double progress = std::clamp(
      static_cast<double>(step - warmup_steps) / static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps)),
      0.0, 1.0);
  if (kind == LrScheduleKind::kLinearWarmupDecay) return lr * (1.0 - progress);
  return lr * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace llamarec
