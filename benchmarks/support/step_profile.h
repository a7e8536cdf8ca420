// Where the milliseconds of a training step go. LibTorch's (legacy, CPU) profiler records every op
// and every RECORD_USER_SCOPE range; StepProfile keeps what happened inside "train.step" ranges (the
// trainer's, so validation is left out) and charges it to categories:
//   - forward ops to the innermost model scope open around them ("lru.scan", "lru.ffn", ...);
//   - backward nodes to the scope of the forward op that created them (autograd sequence numbers);
//   - the trainer's own phases ("train.all_reduce", "train.optimizer", ...) to themselves;
//   - whatever is left inside a phase to "<phase> (other)".
// The profiler costs a few microseconds per op: compare the total with an unprofiled step time.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace llamarec {

class StepProfile {
 public:
  // Starts recording on this thread (and the LibTorch tasks it launches).
  void start();
  // Stops recording and adds what was recorded to the totals.
  void stop();

  // Category -> milliseconds per step, and the number of steps seen.
  std::map<std::string, double> milliseconds_per_step() const;
  int64_t steps() const { return steps_; }
  // The n largest "category | op" entries by self time, milliseconds per step.
  std::vector<std::pair<std::string, double>> top_ops(size_t n) const;

 private:
  std::map<std::string, double> total_us_;
  std::map<std::string, double> op_us_;
  int64_t steps_ = 0;
  bool running_ = false;
};

}  // namespace llamarec
