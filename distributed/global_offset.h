// Where this rank's block starts in a global numbering of per-rank blocks (rank order).
#pragma once
#include <cstdint>
#include <utility>

#include "distributed/communicator.h"

namespace llamarec {

struct GlobalOffset {
  int64_t first = 0;  // global index of this rank's first element
  int64_t total = 0;  // elements over all ranks
};

// Collective: every rank passes its own count.
GlobalOffset global_offset(Communicator& comm, int64_t local_count);

}  // namespace llamarec
