// The CPU sets of the ranks that share this node (core/cpu_affinity.h), for the thread defaults: how
// many ranks a rank's cores are shared with depends on how the launcher bound them.
#pragma once
#include <mpi.h>

#include <vector>

#include "core/cpu_affinity.h"

namespace llamarec {

// Every local rank's set (MPI_COMM_TYPE_SHARED within `comm`), `mine` among them. Collective.
std::vector<CpuSet> node_cpu_sets(MPI_Comm comm, const CpuSet& mine);

}  // namespace llamarec
