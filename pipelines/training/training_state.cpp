#include "pipelines/training/training_state.h"

#include <set>

#include "core/error.h"

namespace llamarec {

bool TrainingState::record(const ValidationPoint& point, const std::string& metric) {
  curve.push_back(point);
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
  TrainingState s;
  try {
    s.step = j.at("step");
    s.best_step = j.at("best_step");
    s.best_metric = j.at("best_metric");
    s.bad_validations = j.at("bad_validations");
    s.elapsed = j.at("elapsed");
    s.seconds_to_best = j.at("seconds_to_best");
    s.pending_loss_sum = j.at("pending_loss_sum");
    s.pending_label_count = j.at("pending_label_count");
    s.last_lr = j.at("last_lr");
    s.bad_steps = j.at("bad_steps");
    s.skipped_steps = j.at("skipped_steps");
    static const std::set<std::string> fields = {"step", "epoch", "train_loss", "lr", "seconds"};
    for (const auto& p : j.at("curve")) {
      ValidationPoint point{p.at("step"), p.at("epoch"), p.at("train_loss"), p.at("lr"), p.at("seconds"), {}};
      for (const auto& [name, value] : p.items()) {
        if (!fields.count(name)) point.metrics[name] = value.get<double>();
      }
      s.curve.push_back(point);
    }
  } catch (const nlohmann::json::exception& e) {
    fail("{}: corrupt training state ({})", file, e.what());
  }
  return s;
}

Config identity_base(const Config& config) {
  Config c;
  c.run.seed = config.run.seed;
  c.data.dataset = config.in_run_dir(config.data.dataset);
  return c;
}

}  // namespace llamarec
