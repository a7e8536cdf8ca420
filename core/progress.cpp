#include "core/progress.h"

#include <spdlog/spdlog.h>

#include <cmath>

namespace llamarec {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  const auto s = static_cast<int64_t>(seconds);
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

Progress::Progress(std::string label, int64_t total, std::string unit, double interval_seconds)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      interval_(interval_seconds),
      start_(std::chrono::steady_clock::now()),
      last_log_(start_) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::rate() const {
  const double t = elapsed_seconds();
  return t > 0 ? static_cast<double>(done_) / t : 0.0;
}

void Progress::advance(int64_t n, const std::string& extra) {
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_log_).count() >= interval_ || (total_ > 0 && done_ >= total_)) {
    last_log_ = now;
    log_line(extra);
  }
}

void Progress::finish(const std::string& extra) { log_line(extra); }

void Progress::log_line(const std::string& extra) {
  const double r = rate();
  std::string line;
  if (total_ > 0) {
    const double pct = 100.0 * static_cast<double>(done_) / static_cast<double>(total_);
    const double eta = r > 0 ? static_cast<double>(total_ - done_) / r : NAN;
    line = fmt::format("{} {}/{} ({:.0f}%) | {:.2f} {}/s | elapsed {} | eta {}", label_, done_, total_, pct, r, unit_,
                       format_duration(elapsed_seconds()), format_duration(eta));
  } else {
    line = fmt::format("{} {} | {:.2f} {}/s | elapsed {}", label_, done_, r, unit_, format_duration(elapsed_seconds()));
  }
  if (!extra.empty()) line += " | " + extra;
  spdlog::info("{}", line);
}

}  // namespace llamarec
