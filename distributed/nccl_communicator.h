// The NCCL backend: CUDA tensors on this rank's GPU (local rank % device count), collectives
// enqueued on LibTorch's current stream of that device (asynchronous to the host, ordered with the
// surrounding LibTorch work). Bootstrapped over MPI: rank 0 makes the NCCL id, MPI_Bcast shares it.
#pragma once
#include <mpi.h>

#include <chrono>
#include <memory>

#include "distributed/communicator.h"

namespace llamarec {

// Collective over `comm`. Throws llamarec::Error on every rank when this build has no NCCL or no
// CUDA LibTorch, or when a rank has no GPU. A collective (or the init) that has not completed
// `timeout` after it was enqueued, or an asynchronous NCCL error, aborts the communicator and ends
// the process with a message naming the collective (distributed/async_watchdog.h).
std::unique_ptr<Communicator> make_nccl_communicator(std::chrono::milliseconds timeout, MPI_Comm comm = MPI_COMM_WORLD);

}  // namespace llamarec
