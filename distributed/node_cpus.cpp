#include "distributed/node_cpus.h"

#include "distributed/mpi_context.h"

namespace llamarec {

std::vector<CpuSet> node_cpu_sets(MPI_Comm node, const CpuSet& mine) {
  int size = 1;
  mpiCheck(MPI_Comm_size(node, &size));
  std::vector<CpuSet> all(static_cast<size_t>(size));
  static_assert(sizeof(CpuSet) == CpuSet::kWords * sizeof(uint64_t), "CpuSet travels as its words");
  mpiCheck(
      MPI_Allgather(mine.words().data(), CpuSet::kWords, MPI_UINT64_T, all.data(), CpuSet::kWords, MPI_UINT64_T, node));
  return all;
}

}  // namespace llamarec
