#include "core/fault_injection.h"

#include <csignal>
#include <cstdio>
#include <regex>

#include "core/error.h"

namespace llamarec {
namespace {

struct ArmedFault {
  std::optional<FaultPlan> plan;
  int rank = 0;
};

ArmedFault& armed() {
  static ArmedFault fault;
  return fault;
}

const char* point_name(FaultPoint point) {
  switch (point) {
    case FaultPoint::kStep:
      return "step";
    case FaultPoint::kCheckpoint:
      return "checkpoint";
    case FaultPoint::kBatch:
      return "batch";
  }
  return "?";
}

}  // namespace

FaultPlan parse_fault_plan(const std::string& spec) {
  static const std::regex form(
      R"(^(throw|kill|nan)@(step|checkpoint|batch)=(\d{1,12})(?:-(\d{1,12}))?(?:,rank=(\d{1,6}))?$)");
  std::smatch m;
  if (!std::regex_match(spec, m, form)) {
    fail(
        "--inject-fault {}: expected KIND@POINT=FIRST[-LAST][,rank=R] with KIND throw, kill or nan and POINT step, "
        "checkpoint or batch (e.g. throw@step=20,rank=1)",
        spec);
  }
  FaultPlan plan;
  plan.kind = m[1] == "throw" ? FaultKind::kThrow : m[1] == "kill" ? FaultKind::kKill : FaultKind::kNan;
  plan.point = m[2] == "step" ? FaultPoint::kStep : m[2] == "checkpoint" ? FaultPoint::kCheckpoint : FaultPoint::kBatch;
  plan.first = std::stoll(m[3]);
  plan.last = m[4].matched ? std::stoll(m[4]) : plan.first;
  if (m[5].matched) plan.rank = std::stoi(m[5]);
  if (plan.last < plan.first) fail("--inject-fault {}: the range ends before it starts", spec);
  if (plan.kind == FaultKind::kNan && plan.point != FaultPoint::kStep)
    fail("--inject-fault {}: nan applies to training steps only (nan@step=N)", spec);
  return plan;
}

void set_fault_plan(const std::optional<FaultPlan>& plan) { armed().plan = plan; }
void set_fault_rank(int rank) { armed().rank = rank; }

bool fault_at(FaultPoint point, int64_t index) {
  const auto& [plan, rank] = armed();
  if (!plan || plan->point != point || index < plan->first || index > plan->last) return false;
  if (plan->rank >= 0 && plan->rank != rank) return false;
  switch (plan->kind) {
    case FaultKind::kThrow:
      fail("injected fault at {} {} on rank {} (--inject-fault)", point_name(point), index, rank);
    case FaultKind::kKill:
      std::fprintf(stderr, "llamarec: injected kill at %s %lld on rank %d\n", point_name(point),
                   static_cast<long long>(index), rank);
      std::fflush(stderr);
      std::raise(SIGKILL);
      return false;
    case FaultKind::kNan:
      return true;
  }
  return false;
}

}  // namespace llamarec
