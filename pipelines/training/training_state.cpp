#include "pipelines/training/training_state.h"

#include <set>

#include "core/error.h"
#include "core/json_value.h"

namespace llamarec {

bool TrainingState::record(const ValidationPoint& point, const std::string& metric, bool baseline) {
  curve.push_back(point);
  if (baseline) return false;
  const double value = point.metrics.at(metric);
  if (best_step < 0 || value > best_metric) {  // the first validation is the first best
    best_metric = value;
    best_step = point.step;
    seconds_to_best = point.seconds;
    bad_validations = 0;
    return true;
  }
  ++bad_validations;
  return false;
}

nlohmann::json to_json(const ValidationPoint& p) {
  nlohmann::json j = {
      {"step", p.step}, {"epoch", p.epoch}, {"train_loss", p.train_loss}, {"lr", p.lr}, {"seconds", p.seconds}};
  for (const auto& [name, value] : p.metrics) j[name] = value;
  return j;
}

nlohmann::json to_json(const TrainingState& s) {
  nlohmann::json j = {{"step", s.step},
                      {"best_step", s.best_step},
                      {"best_metric", s.best_metric},
                      {"bad_validations", s.bad_validations},
                      {"elapsed", s.elapsed},
                      {"seconds_to_best", s.seconds_to_best},
                      {"pending_loss_sum", s.pending_loss_sum},
                      {"pending_label_count", s.pending_label_count},
                      {"last_lr", s.last_lr},
                      {"bad_steps", s.bad_steps},
                      {"skipped_steps", s.skipped_steps}};
  j["curve"] = nlohmann::json::array();
  for (const auto& p : s.curve) j["curve"].push_back(to_json(p));
  return j;
}

TrainingState training_state_from_json(const nlohmann::json& j, const std::string& file) {
  const std::string where = file + ": corrupt training state";
  TrainingState s;
  s.step = json_field<int64_t>(j, "step", where);
  s.best_step = json_field<int64_t>(j, "best_step", where);
  s.best_metric = json_field<double>(j, "best_metric", where);
  s.bad_validations = json_field<int64_t>(j, "bad_validations", where);
  s.elapsed = json_field<double>(j, "elapsed", where);
  s.seconds_to_best = json_field<double>(j, "seconds_to_best", where);
  s.pending_loss_sum = json_field<double>(j, "pending_loss_sum", where);
  s.pending_label_count = json_field<double>(j, "pending_label_count", where);
  s.last_lr = json_field<double>(j, "last_lr", where);
  s.bad_steps = json_field<int64_t>(j, "bad_steps", where);
  s.skipped_steps = json_field<int64_t>(j, "skipped_steps", where);
  if (!j.contains("curve") || !j["curve"].is_array()) fail("{}: key 'curve' missing or not a list", where);
  static const std::set<std::string> fields = {"step", "epoch", "train_loss", "lr", "seconds"};
  for (const auto& p : j["curve"]) {
    const std::string in_curve = where + ", curve entry " + std::to_string(s.curve.size());
    ValidationPoint point{json_field<int64_t>(p, "step", in_curve),      json_field<int64_t>(p, "epoch", in_curve),
                          json_field<double>(p, "train_loss", in_curve), json_field<double>(p, "lr", in_curve),
                          json_field<double>(p, "seconds", in_curve),    {}};
    for (const auto& [name, value] : p.items()) {
      if (!fields.count(name)) point.metrics[name] = json_field<double>(p, name.c_str(), in_curve);
    }
    s.curve.push_back(point);
  }
  return s;
}

}  // namespace llamarec
