// Progress for long loops: done/total, rate, ETA and caller-supplied fields (loss, ...), logged on
// rank 0 at most every `interval_seconds`.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace llamarec {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "it", double interval_seconds = 10.0);

  // Advance by `n`; logs when the interval has passed or the loop is done. `extra` is appended
  // to the line (e.g. "loss 4.213").
  void advance(int64_t n = 1, const std::string& extra = "");
  void finish(const std::string& extra = "");

  int64_t done() const { return done_; }
  double elapsed_seconds() const;
  double rate() const;  // units per second since construction

 private:
  void log_line(const std::string& extra);

  std::string label_;
  std::string unit_;
  int64_t total_;
  int64_t done_ = 0;
  double interval_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_log_;
};

// "1h02m", "3m05s", "12.3s"
std::string format_duration(double seconds);

}  // namespace llamarec
