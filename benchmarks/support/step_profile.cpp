#include "benchmarks/support/step_profile.h"

#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <vector>

#include "core/error.h"

namespace llamarec {
namespace {

namespace prof = torch::autograd::profiler;

bool starts_with(const char* s, const char* prefix) { return std::strncmp(s, prefix, std::strlen(prefix)) == 0; }

struct Frame {
  size_t event;          // index of the push event
  std::string category;  // where this range's self time goes ("" outside train.step)
  std::string phase;     // enclosing trainer phase ("train.forward", ...)
  std::string scope;     // innermost model scope during the forward ("lru.scan", ...)
  double children_us = 0;
};

}  // namespace

void StepProfile::start() {
  if (running_) fail("StepProfile: already started");
  prof::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
  running_ = true;
}

void StepProfile::stop() {
  if (!running_) fail("StepProfile: not started");
  running_ = false;
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
          f.scope = starts_with(name, "lru.") ? name : parent->scope;
          if (f.phase == "train.forward") {
            f.category = f.scope.empty() ? "train.forward (other)" : f.scope;
            if (e.sequenceNr() >= 0) forward_boundaries[e.sequenceNr()] = f.category;
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
        if (!f.category.empty()) {
          total_us_[f.category] += inclusive - f.children_us;
          op_us_[f.category + " | " + events[f.event].name()] += inclusive - f.children_us;
        }
        if (!stack.empty()) stack.back().children_us += inclusive;
      }
    }
  }
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
