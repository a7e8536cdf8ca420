#include "pipelines/training/lr_schedule.h"

#include <algorithm>

namespace llamarec {

double LrSchedule::at(int64_t step) const {
  if (kind == LrScheduleKind::kConstant) return lr;
  double factor;
  if (step < warmup_steps) {
    factor = static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  } else {
    factor = std::max(0.0, static_cast<double>(total_steps - step) /
                               static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps)));
  }
  return lr * factor;
}

}  // namespace llamarec
