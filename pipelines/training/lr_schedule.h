// Learning-rate schedules, as a function of the step about to run (step 0 is the first update).
#pragma once
#include <cstdint>

namespace llamarec {

enum class LrScheduleKind {
  kConstant,           // lr at every step (LRURec's reference trainer)
  kLinearWarmupDecay,  // HF's get_linear_schedule_with_warmup: 0 -> lr over warmup, then -> 0 at total
  kCosineWarmupDecay,  // HF's get_cosine_schedule_with_warmup: the same warmup, then a half cosine to 0
};

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::kConstant;
  double lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;  // where the decay reaches 0

  // The learning rate of update `step` (HF steps its scheduler after each update, so the first
  // update of a warmup trains at lr 0).
  double at(int64_t step) const;
};

}  // namespace llamarec
