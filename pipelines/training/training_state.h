// What a training run has done so far: step counter, validation curve, best validation, patience,
// time, and the loop's running sums. Kept in <checkpoint>.state/state.json (pipelines/training/checkpointer.h) and
// reported as the run's result; the same for every trainer.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/ranking_metrics.h"

namespace llamarec {

struct ValidationPoint {
  int64_t step = 0;
  int64_t epoch = 0;
  double train_loss = 0;  // mean over label tokens since the previous validation
  double lr = 0;          // of the last update before this validation (0 before the first)
  double seconds = 0;     // wall time of training so far, over every call that resumed it
  MetricMap metrics;      // validation metrics ("NDCG@10", ...)
};

struct TrainingState {
  int64_t step = 0;        // updates done
  int64_t best_step = -1;  // -1: no validation yet
  double best_metric = 0;
  int64_t bad_validations = 0;  // validations since the best
  double elapsed = 0;
  double seconds_to_best = 0;
  std::vector<ValidationPoint> curve;
  // Since the last validation (so that a resumed run logs the same train_loss).
  double pending_loss_sum = 0;
  double pending_label_count = 0;
  double last_lr = 0;
  int64_t bad_steps = 0;      // consecutive steps with a non-finite loss or gradient (skipped)
  int64_t skipped_steps = 0;  // all of them, over the run

  // Appends `point`; true when its `metric` beats the best so far (strictly, as the references),
  // which then becomes the best. A `baseline` point (the untrained model) is in the curve only: it
  // neither becomes the best nor counts against the patience.
  bool record(const ValidationPoint& point, const std::string& metric, bool baseline = false);
  // An early-stopped run stays stopped when it is started again, unless the patience was raised.
  bool stopped(int64_t patience) const { return bad_validations >= patience; }
};

nlohmann::json to_json(const ValidationPoint& point);
nlohmann::json to_json(const TrainingState& state);
// `file` names the source in errors (a missing or wrongly typed field).
TrainingState training_state_from_json(const nlohmann::json& json, const std::string& file);

}  // namespace llamarec
