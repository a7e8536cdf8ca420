#include "benchmarks/support/step_profile.h"

#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iterator>
#include <vector>

#include "core/error.h"

namespace llamarec {
namespace {

namespace prof = torch::autograd::profiler;

bool starts_with(const char* s, const char* prefix) { return std::strncmp(s, prefix, std::strlen(prefix)) == 0; }

// The ProfileScope names of the model code (core/profile_scope.h), as opposed to ops and nodes.
bool is_model_scope(const char* name) {
  for (const char* prefix : {"lru.", "llama.", "fsdp.", "ranker.", "dp."})
    if (starts_with(name, prefix)) return true;
  return false;
}

struct Frame {
  size_t event;            // index of the push event
  std::string category;    // where this range's self time goes ("" outside train.step)
  std::string phase;       // enclosing trainer phase ("train.forward", ...)
  std::string scope;       // innermost model scope during the forward ("lru.scan", ...)
  bool recompute = false;  // inside a checkpointed unit's forward, run again by its backward
  double children_us = 0;
};

}  // namespace

namespace {
StepProfile* active_scope_profile = nullptr;  // the callbacks are plain functions

double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

std::unique_ptr<at::ObserverContext> StepProfile::scope_begins(const at::RecordFunction& fn) {
  auto* self = active_scope_profile;
  if (self == nullptr) return nullptr;
  const char* name = fn.name();
  const ScopeFrame* parent = self->scope_stack_.empty() ? nullptr : &self->scope_stack_.back();
  ScopeFrame f{name, "", "", now_us(), 0};
  if (std::strcmp(name, "train.step") == 0) {
    ++self->steps_;
    f.phase = "train.step";
    f.category = "train.step (other)";
  } else if (parent && !parent->phase.empty() && starts_with(name, "train.")) {
    f.phase = name;
    f.category = f.phase == "train.forward" || f.phase == "train.backward" ? f.phase + " (other)" : f.phase;
  } else if (parent && !parent->phase.empty()) {
    f.phase = parent->phase;
    if (f.phase == "train.backward") {
      f.category =
          std::strcmp(name, "fsdp.recompute") == 0 ? "fsdp.recompute (other)" : std::string(name) + " (recompute)";
    } else {
      f.category = name;
    }
  }
  self->scope_stack_.push_back(f);
  return nullptr;
}

void StepProfile::scope_ends(const at::RecordFunction&, at::ObserverContext*) {
  auto* self = active_scope_profile;
  if (self == nullptr || self->scope_stack_.empty()) return;
  const ScopeFrame f = self->scope_stack_.back();
  self->scope_stack_.pop_back();
  const double inclusive = now_us() - f.start_us;
  if (!f.category.empty()) self->total_us_[f.category] += inclusive - f.children_us;
  if (!f.phase.empty()) self->add_step_time(f.name, inclusive);
  if (!self->scope_stack_.empty()) self->scope_stack_.back().children_us += inclusive;
}

void StepProfile::start() {
  if (running_) fail("StepProfile: already started");
  if (mode_ == Mode::kScopes) {
    if (active_scope_profile != nullptr) fail("StepProfile: another scope profile is running");
    active_scope_profile = this;
    callback_ = at::addGlobalCallback(at::RecordFunctionCallback(&StepProfile::scope_begins, &StepProfile::scope_ends)
                                          .scopes({at::RecordScope::USER_SCOPE}));
    running_ = true;
    return;
  }
  prof::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
  running_ = true;
}

void StepProfile::stop() {
  if (!running_) fail("StepProfile: not started");
  running_ = false;
  if (mode_ == Mode::kScopes) {
    at::removeCallback(callback_);
    active_scope_profile = nullptr;
    scope_stack_.clear();
    return;
  }
  const auto lists = prof::disableProfilerLegacy();
  for (const auto& events : lists) {
    // Autograd sequence number -> the category of the forward code that took it. Every op and every
    // ProfileScope marks where a category starts; custom autograd functions take numbers without an
    // event of their own, and belong to the category before them.
    std::map<int64_t, std::string> forward_boundaries;
    std::vector<Frame> stack;
    for (size_t i = 0; i < events.size(); ++i) {
      const auto& e = events[i];
      if (e.kind() == prof::EventKind::PushRange) {
        const char* name = e.name();
        Frame f{i, "", "", ""};
        const Frame* parent = stack.empty() ? nullptr : &stack.back();
        if (std::strcmp(name, "train.step") == 0) {
          ++steps_;
          f.phase = "train.step";
          f.category = "train.step (other)";
        } else if (parent && !parent->phase.empty() && starts_with(name, "train.")) {
          f.phase = name;
          const bool split = f.phase == "train.forward" || f.phase == "train.backward";
          f.category = split ? f.phase + " (other)" : f.phase;
        } else if (parent && !parent->phase.empty()) {
          f.phase = parent->phase;
          const bool model_scope = is_model_scope(name);
          f.scope = model_scope ? name : parent->scope;
          if (f.phase == "train.forward") {
            f.category = f.scope.empty() ? "train.forward (other)" : f.scope;
            if (e.sequenceNr() >= 0) forward_boundaries[e.sequenceNr()] = f.category;
          } else if (f.phase == "train.backward" && (model_scope || parent->recompute)) {
            // Activation checkpointing (distributed/fsdp_unit.h): the forward again, whose own
            // backward nodes follow and are charged to its scopes like the first forward's.
            f.recompute = true;
            f.category = f.scope == "fsdp.recompute" ? "fsdp.recompute (other)" : f.scope + " (recompute)";
            if (e.sequenceNr() >= 0) forward_boundaries[e.sequenceNr()] = f.scope;
          } else if (f.phase == "train.backward") {
            // A node's own event (inside the engine's evaluate_function range) carries its number.
            auto it = forward_boundaries.upper_bound(e.sequenceNr());
            if (e.sequenceNr() >= 0 && it != forward_boundaries.begin()) {
              f.category = std::prev(it)->second + " backward";
            } else {
              f.category = parent->category;
            }
          } else {
            f.category = parent->category;
          }
        }
        stack.push_back(f);
      } else if (e.kind() == prof::EventKind::PopRange) {
        if (stack.empty()) continue;
        const Frame f = stack.back();
        stack.pop_back();
        const double inclusive = events[f.event].cpuElapsedUs(e);
        if (!f.phase.empty()) add_step_time(events[f.event].name(), inclusive);
        if (!f.category.empty()) {
          total_us_[f.category] += inclusive - f.children_us;
          op_us_[f.category + " | " + events[f.event].name()] += inclusive - f.children_us;
        }
        if (!stack.empty()) stack.back().children_us += inclusive;
      }
    }
  }
}

void StepProfile::add_step_time(const std::string& name, double inclusive_us) {
  if (steps_ == 0) return;
  auto& by_step = us_by_step_[name];
  by_step.resize(static_cast<size_t>(steps_), 0.0);
  by_step[static_cast<size_t>(steps_ - 1)] += inclusive_us;
}

std::vector<double> StepProfile::ms_by_step(const std::string& name) const {
  std::vector<double> out(static_cast<size_t>(steps_), 0.0);
  const auto it = us_by_step_.find(name);
  if (it == us_by_step_.end()) return out;
  for (size_t i = 0; i < it->second.size(); ++i) out[i] = it->second[i] / 1000.0;
  return out;
}

std::vector<std::pair<std::string, double>> StepProfile::top_ops(size_t n) const {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [op, us] : op_us_) out.emplace_back(op, steps_ > 0 ? us / 1000.0 / steps_ : 0.0);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (out.size() > n) out.resize(n);
  return out;
}

std::map<std::string, double> StepProfile::milliseconds_per_step() const {
  std::map<std::string, double> out;
  for (const auto& [category, us] : total_us_) out[category] = steps_ > 0 ? us / 1000.0 / steps_ : 0.0;
  return out;
}

}  // namespace llamarec
