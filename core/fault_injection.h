// Fault injection for the reliability tests: makes one rank throw, die (SIGKILL) or produce a
// non-finite loss at a chosen point of a run, so that what a real fault does to a distributed job
// (a rank's exception, a killed process, a diverging loss) can be reproduced on demand. Set from
// the command line (`--inject-fault`, every stage command); off unless set.
//
// Spec: KIND@POINT=FIRST[-LAST][,rank=R]
//   KIND   throw | kill | nan (nan only at step)
//   POINT  step        before the update of training step FIRST..LAST (0-based), either trainer
//          checkpoint  while writing the training state of step FIRST..LAST, after its files and
//                      before the commit: a kill there is a crash in the middle of a checkpoint
//          batch       scoring batch FIRST..LAST of validation, retrieval or evaluation
//   rank   only on this rank (default: every rank)
// e.g. throw@step=20,rank=1   kill@checkpoint=40   nan@step=5-9
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace llamarec {

enum class FaultKind { kThrow, kKill, kNan };
enum class FaultPoint { kStep, kCheckpoint, kBatch };

struct FaultPlan {
  FaultKind kind = FaultKind::kThrow;
  FaultPoint point = FaultPoint::kStep;
  int64_t first = 0;
  int64_t last = 0;
  int rank = -1;  // -1: every rank
};

// Errors name the spec and what is wrong with it.
FaultPlan parse_fault_plan(const std::string& spec);

// Arms `plan` (nullopt disarms) for this process; its rank is set once MPI is up.
void set_fault_plan(const std::optional<FaultPlan>& plan);
void set_fault_rank(int rank);

// Called at each fault point with its index: throws (kThrow) or kills this process (kKill) when the
// plan says so; returns true where a kNan fault applies (the caller poisons its loss).
bool fault_at(FaultPoint point, int64_t index);

}  // namespace llamarec
