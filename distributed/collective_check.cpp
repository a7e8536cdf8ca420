#include "distributed/collective_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "distributed/mpi_context.h"

namespace llamarec {
namespace {

// Longest per-rank text carried by the (rare) failure path.
constexpr int kTextBytes = 768;

}  // namespace

const char* descriptor_field_name(int field) {
  switch (field) {
    case CollectiveDescriptor::kOp:
      return "collective";
    case CollectiveDescriptor::kReduceOp:
      return "reduce op";
    case CollectiveDescriptor::kRoot:
      return "root";
    case CollectiveDescriptor::kDtype:
      return "dtype";
    case CollectiveDescriptor::kDevice:
      return "device type";
    case CollectiveDescriptor::kInputNumel:
      return "input numel";
    case CollectiveDescriptor::kOutputNumel:
      return "output numel";
    case CollectiveDescriptor::kShape:
      return "shape";
    default:
      return "?";
  }
}

int64_t shape_fingerprint(const std::vector<int64_t>& sizes) {
  uint64_t h = 1469598103934665603ull ^ sizes.size();
  for (int64_t s : sizes) h = (h ^ static_cast<uint64_t>(s)) * 1099511628211ull;
  return static_cast<int64_t>(h >> 2);
}

CollectiveCheck::CollectiveCheck(MPI_Comm comm) {
  mpiCheck(MPI_Comm_dup(comm, &comm_));
  mpiCheck(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  mpiCheck(MPI_Comm_rank(comm_, &rank_));
  mpiCheck(MPI_Comm_size(comm_, &size_));
  local_rank_ = node_rank(comm_).rank;
}

CollectiveCheck::~CollectiveCheck() {
  if (comm_ != MPI_COMM_NULL && MpiContext::initialized()) MPI_Comm_free(&comm_);
}

void CollectiveCheck::agree(const CollectiveDescriptor& descriptor, const std::string& problem,
                            const std::function<std::string()>& describe) {
  if (size_ == 1) {
    if (!problem.empty()) throw Error(problem);
    return;
  }
  // One MPI_MAX over [fields, problem flag, -fields, -flag] yields every field's max and min.
  constexpr int n = CollectiveDescriptor::kFieldCount + 1;
  std::array<int64_t, 2 * n> packed{};
  for (int i = 0; i < CollectiveDescriptor::kFieldCount; ++i) packed[i] = descriptor.fields[i];
  packed[n - 1] = problem.empty() ? 0 : 1;
  for (int i = 0; i < n; ++i) packed[n + i] = -packed[i];
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, packed.data(), 2 * n, MPI_INT64_T, MPI_MAX, comm_));

  const bool any_problem = packed[n - 1] != 0;
  std::string differing;
  for (int i = 0; i < CollectiveDescriptor::kFieldCount; ++i) {
    if (packed[i] != -packed[n + i])
      differing += fmt::format("{}{}", differing.empty() ? "" : ", ", descriptor_field_name(i));
  }
  if (!any_problem && differing.empty()) return;
  fail_with_all_ranks(problem.empty() ? describe() : problem, any_problem, !problem.empty(), differing);
}

void CollectiveCheck::fail_with_all_ranks(const std::string& mine, bool any_problem, bool own_problem,
                                          const std::string& differing) {
  // Byte 0 flags a rank-local problem; the rest is that rank's problem or description.
  std::vector<char> local(kTextBytes, '\0');
  local[0] = own_problem ? 'P' : 'D';
  std::memcpy(local.data() + 1, mine.data(), std::min<size_t>(mine.size(), kTextBytes - 2));
  std::vector<char> all(static_cast<size_t>(kTextBytes) * size_);
  mpiCheck(MPI_Allgather(local.data(), kTextBytes, MPI_CHAR, all.data(), kTextBytes, MPI_CHAR, comm_));

  std::string listed;
  for (int r = 0; r < size_; ++r) {
    const char* text = all.data() + static_cast<size_t>(r) * kTextBytes;
    if (any_problem && text[0] != 'P') continue;
    listed += fmt::format("{}rank {}: {}", listed.empty() ? "" : "; ", r, text + 1);
  }
  if (any_problem) fail("collective failed on {}", listed);
  fail("ranks called mismatched collectives (they differ in {}): {}", differing, listed);
}

void CollectiveCheck::barrier() { mpiCheck(MPI_Barrier(comm_)); }

}  // namespace llamarec
