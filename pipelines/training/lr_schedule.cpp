#include "pipelines/training/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace llamarec {

double LrSchedule::at(int64_t step) const {
  if (kind == LrScheduleKind::kConstant) return lr;
  // The warmup and the linear decay keep their original expressions, so that the ranker's rates (and
  // its checkpoints) stay bit-identical to earlier releases.
  double factor;
  if (step < warmup_steps) {
    factor = static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  } else if (kind == LrScheduleKind::kLinearWarmupDecay) {
    factor = std::max(0.0, static_cast<double>(total_steps - step) /
                               static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps)));
  } else {
    const double progress = std::clamp(static_cast<double>(step - warmup_steps) /
                                           static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps)),
                                       0.0, 1.0);
    factor = 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  return lr * factor;
}

}  // namespace llamarec
