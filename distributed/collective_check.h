// The host-side MPI channel behind every Communicator: a cheap agreement check before each
// collective (one MPI_Allreduce of a packed descriptor) and the barrier. On disagreement every rank
// gathers every rank's description and throws the same llamarec::Error, so no rank is left waiting.
#pragma once
#include <mpi.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace llamarec {

// What one rank is about to do; ranks must agree field by field.
struct CollectiveDescriptor {
  enum Field { kOp, kReduceOp, kRoot, kDtype, kDevice, kInputNumel, kOutputNumel, kShape, kFieldCount };
  std::array<int64_t, kFieldCount> fields{};
};

const char* descriptor_field_name(int field);

class CollectiveCheck {
 public:
  // Duplicates `comm`, so that its traffic never interleaves with other users of `comm`.
  explicit CollectiveCheck(MPI_Comm comm);
  ~CollectiveCheck();
  CollectiveCheck(const CollectiveCheck&) = delete;
  CollectiveCheck& operator=(const CollectiveCheck&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }

  // Collective over all ranks. Returns when every rank passed the same descriptor and no rank has a
  // `problem`; otherwise throws on every rank, naming each rank's problem or description
  // (`describe` is called only then). At size 1 only the local problem is checked.
  void agree(const CollectiveDescriptor& descriptor, const std::string& problem,
             const std::function<std::string()>& describe);
  void barrier();

 private:
  [[noreturn]] void fail_with_all_ranks(const std::string& mine, bool any_problem, bool own_problem,
                                        const std::string& differing);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
};

// A 62-bit fingerprint of a shape (non-negative, so that it can be negated for the min/max trick).
int64_t shape_fingerprint(const std::vector<int64_t>& sizes);

}  // namespace llamarec
