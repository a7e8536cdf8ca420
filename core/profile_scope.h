// A named range for LibTorch's profiler, the C++ form of Python's `with record_function(name):`.
// It costs one flag test when no profiler runs. Names in use: "train.<phase>" in the trainer's step,
// "lru.<part>" in the retriever's modules; benchmarks/support/step_profile.h adds them up.
#pragma once
#include <ATen/SequenceNumber.h>
#include <ATen/record_function.h>

namespace llamarec {

class ProfileScope {
 public:
  explicit ProfileScope(const char* name) : guard_(at::RecordScope::USER_SCOPE) {
    // The autograd sequence number the next op will take: marks where this scope's ops begin.
    if (guard_.isActive())
      guard_.before(name, c10::ArrayRef<const c10::IValue>{}, static_cast<int64_t>(at::sequence_number::peek()));
  }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  at::RecordFunction guard_;
};

}  // namespace llamarec
