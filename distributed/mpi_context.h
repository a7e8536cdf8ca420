// Process-wide MPI lifetime and world facts. A world of size 1 needs no launcher: Open MPI's
// singleton init covers running the binary directly.
#pragma once
#include <mpi.h>

#include <string>
#include <vector>

#include "core/cpu_affinity.h"
#include "core/error.h"

// Checked MPI call: a failure becomes a llamarec::Error naming the call and MPI's message.
#define mpiCheck(call)                                                                            \
  do {                                                                                            \
    int mpi_status_ = (call);                                                                     \
    if (mpi_status_ != MPI_SUCCESS) ::llamarec::mpi_fail(#call, mpi_status_, __FILE__, __LINE__); \
  } while (0)

namespace llamarec {

[[noreturn]] void mpi_fail(const char* call, int status, const char* file, int line);

// This process's rank among the members of `comm` on the same node (MPI_COMM_TYPE_SHARED), and
// how many there are; the portable way to pick a GPU (launcher variables differ).
struct NodeRank {
  int rank = 0;
  int size = 1;
};
NodeRank node_rank(MPI_Comm comm);

class MpiContext {
 public:
  // Initialises MPI (if nobody did yet) and finalises it on destruction if this object initialised it.
  MpiContext(int* argc, char*** argv);
  ~MpiContext();
  MpiContext(const MpiContext&) = delete;
  MpiContext& operator=(const MpiContext&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Rank among the processes of this node (MPI_COMM_TYPE_SHARED); picks the GPU.
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  // The CPUs each rank of this node may run on (core/cpu_affinity.h), in local rank order: what the
  // thread defaults divide (threads_per_rank(node_cpus()[local_rank()], node_cpus())).
  const std::vector<CpuSet>& node_cpus() const { return node_cpus_; }

  // True when MPI was initialised by any MpiContext in this process.
  static bool initialized();
  // Aborts every rank: used when one rank hits an error that the others cannot see, so that no
  // rank hangs in a collective.
  [[noreturn]] static void abort_world(int code);
  // MPI_Get_library_version's first line ("Open MPI v4.1.4, ...").
  static std::string library_version();

 private:
  bool owns_ = false;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  std::vector<CpuSet> node_cpus_;
};

}  // namespace llamarec
