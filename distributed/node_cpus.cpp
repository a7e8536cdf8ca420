#include "distributed/node_cpus.h"

#include "distributed/mpi_context.h"

namespace llamarec {

std::vector<CpuSet> node_cpu_sets(MPI_Comm comm, const CpuSet& mine) {
  int rank = 0;
  mpiCheck(MPI_Comm_rank(comm, &rank));
  MPI_Comm node;
  mpiCheck(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
  int size = 1;
  mpiCheck(MPI_Comm_size(node, &size));
  std::vector<CpuSet> all(static_cast<size_t>(size));
  static_assert(sizeof(CpuSet) == CpuSet::kWords * sizeof(uint64_t), "CpuSet travels as its words");
  mpiCheck(MPI_Allgather(mine.words().data(), CpuSet::kWords, MPI_UINT64_T, all.data(), CpuSet::kWords, MPI_UINT64_T,
                         node));
  mpiCheck(MPI_Comm_free(&node));
  return all;
}

}  // namespace llamarec
