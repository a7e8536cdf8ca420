// <run.dir>/metrics.jsonl: one JSON object per training step and per validation, for plots and
// other tools (llamarec report draws from it):
//   {"stage":"retriever","step":12,"epoch":0,"loss":5.73,"lr":0.001,"grad_norm":1.2,"seconds":3.2}
//   {"stage":"retriever","step":100,"val":{"Recall@10":0.45,...},"best":true,"seconds":4.0}
// The file always describes the runs as they stand: when a training starts, the lines of its stage
// past the step it resumes from (0 for a fresh run) are dropped, so that steps redone after a kill
// appear once. Written by rank 0, a line at a time (flushed), so that a crash loses at most one.
#pragma once
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/ranking_metrics.h"

namespace llamarec {

class ScalarLog {
 public:
  // `enabled` false (ranks other than 0, or an empty path): every call does nothing.
  ScalarLog(const std::string& path, std::string stage, int64_t resumed_step, bool enabled);

  void step(int64_t step, int64_t epoch, double loss, double lr, double grad_norm, double seconds);
  void validation(int64_t step, const MetricMap& metrics, double train_loss, bool best, double seconds);

 private:
  void write(const nlohmann::ordered_json& line);

  std::string path_;
  std::string stage_;
  std::ofstream out_;
};

}  // namespace llamarec
