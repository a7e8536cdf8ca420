// The CPU sets of the ranks that share this node (core/cpu_affinity.h), for the thread defaults: how
// many ranks a rank's cores are shared with depends on how the launcher bound them.
#pragma once
#include <mpi.h>

#include <vector>

#include "core/cpu_affinity.h"

namespace llamarec {

// Every rank's set in `node` (the ranks of one node, as MPI_COMM_TYPE_SHARED splits them), in rank
// order, `mine` among them. Collective over `node`.
std::vector<CpuSet> node_cpu_sets(MPI_Comm node, const CpuSet& mine);

}  // namespace llamarec
