// Where the milliseconds of a training step go. LibTorch's (legacy, CPU) profiler records every op
// and every RECORD_USER_SCOPE range; StepProfile keeps what happened inside "train.step" ranges (the
// trainer's, so validation is left out) and charges it to categories:
//   - forward ops to the innermost model scope open around them ("lru.scan", "lru.ffn", ...);
//   - backward nodes to the scope of the forward op that created them (autograd sequence numbers);
//   - the trainer's own phases ("train.all_reduce", "train.optimizer", ...) to themselves;
//   - whatever is left inside a phase to "<phase> (other)".
// The profiler costs a few microseconds per op: compare the total with an unprofiled step time.
// Where ops are many and small (LibTorch 1.13's bmm loops over the batch), that overhead is as large
// as the step; Mode::kScopes then times only the ProfileScope ranges (a clock read at each), so its
// figures are the unprofiled ones, with backward left whole as "train.backward (other)" except the
// recompute and gathers it runs.
#pragma once
#include <ATen/record_function.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llamarec {

class StepProfile {
 public:
  enum class Mode { kOps, kScopes };
  explicit StepProfile(Mode mode = Mode::kOps) : mode_(mode) {}
  Mode mode() const { return mode_; }

  // Starts recording on this thread (and the LibTorch tasks it launches).
  void start();
  // Stops recording and adds what was recorded to the totals.
  void stop();

  // Category -> milliseconds per step, and the number of steps seen.
  std::map<std::string, double> milliseconds_per_step() const;
  int64_t steps() const { return steps_; }
  // The n largest "category | op" entries by self time, milliseconds per step.
  std::vector<std::pair<std::string, double>> top_ops(size_t n) const;
  // Milliseconds inside the ranges named `name` (a trainer phase such as "train.forward", a
  // ProfileScope, an op) in each step seen, in step order, summed where one repeats within a step and
  // 0 where a step had none: for comparing steps and ranks, not only their means.
  std::vector<double> ms_by_step(const std::string& name) const;

 private:
  struct ScopeFrame {
    const char* name;
    std::string category;
    std::string phase;
    double start_us;
    double children_us;
  };
  static std::unique_ptr<at::ObserverContext> scope_begins(const at::RecordFunction& fn);
  static void scope_ends(const at::RecordFunction& fn, at::ObserverContext* context);
  void add_step_time(const std::string& name, double inclusive_us);

  Mode mode_;
  uint64_t callback_ = 0;
  std::vector<ScopeFrame> scope_stack_;
  std::map<std::string, double> total_us_;
  std::map<std::string, double> op_us_;
  std::map<std::string, std::vector<double>> us_by_step_;
  int64_t steps_ = 0;
  bool running_ = false;
};

}  // namespace llamarec
