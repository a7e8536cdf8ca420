#include "pipelines/training/scalar_log.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"

namespace llamarec {
namespace {

// JSON has no NaN or Inf: a non-finite loss (a skipped step) is written as null.
nlohmann::ordered_json number(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

ScalarLog::ScalarLog(const std::string& path, std::string stage, int64_t resumed_step, bool enabled)
    : path_(path), stage_(std::move(stage)) {
  if (!enabled || path_.empty()) return;
  if (std::filesystem::exists(path_)) {
    std::ifstream in(path_);
    std::string kept, line;
    int64_t dropped = 0, unreadable = 0;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        ++unreadable;  // a line cut short by a crash
        continue;
      }
      if (j.value("stage", "") == stage_ && j.value("step", int64_t{0}) > resumed_step) {
        ++dropped;
        continue;
      }
      kept += line + "\n";
    }
    if (unreadable > 0) spdlog::warn("{}: dropped {} unreadable line(s)", path_, unreadable);
    if (dropped > 0 || unreadable > 0) write_file_atomic(path_, kept);
  }
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  out_.open(path_, std::ios::app);
  if (!out_) fail("{}: cannot open for appending the training scalars", path_);
}

void ScalarLog::step(int64_t step, int64_t epoch, double loss, double lr, double grad_norm, double seconds) {
  write({{"stage", stage_},
         {"step", step},
         {"epoch", epoch},
         {"loss", number(loss)},
         {"lr", lr},
         {"grad_norm", number(grad_norm)},
         {"seconds", seconds}});
}

void ScalarLog::validation(int64_t step, const MetricMap& metrics, double train_loss, bool best, double seconds) {
  nlohmann::ordered_json val = nlohmann::ordered_json::object();
  for (const auto& [k, v] : metrics) val[k] = number(v);
  write({{"stage", stage_},
         {"step", step},
         {"val", val},
         {"train_loss", number(train_loss)},
         {"best", best},
         {"seconds", seconds}});
}

void ScalarLog::write(const nlohmann::ordered_json& line) {
  if (!out_.is_open()) return;
  out_ << line.dump() << '\n';
  out_.flush();
  if (!out_) fail("{}: writing the training scalars failed (disk full?)", path_);
}

}  // namespace llamarec
