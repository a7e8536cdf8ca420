// The MPI backend: CPU tensors over an MPI communicator (a duplicate of MPI_COMM_WORLD by default).
// Moves (all_gather, broadcast) take any dtype of 1, 2, 4 or 8 bytes; reductions take float32,
// float64, int32, int64 natively and bfloat16/float16 through float32 (see run_all_reduce).
#pragma once
#include <mpi.h>

#include <memory>

#include "distributed/communicator.h"

namespace llamarec {

class MpiProgressThread;

class MpiCommunicator : public Communicator {
 public:
  // Collective over `comm`, which must be initialised (MpiContext).
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD);
  ~MpiCommunicator() override;

  const char* backend() const override { return "mpi"; }

 protected:
  void run_all_reduce(torch::Tensor& tensor, ReduceOp op) override;
  void run_all_gather(const torch::Tensor& shard, torch::Tensor& full) override;
  // On the progress thread (MPI_Iallgather on its own communicator) when MPI provides
  // MPI_THREAD_MULTIPLE; otherwise now, synchronously.
  std::function<void()> start_all_gather(const torch::Tensor& shard, torch::Tensor& full) override;
  void run_reduce_scatter(const torch::Tensor& full, torch::Tensor& shard, ReduceOp op) override;
  void run_broadcast(torch::Tensor& tensor, int root) override;
  std::string dtype_problem(torch::ScalarType dtype, bool reduces) const override;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Comm async_comm_ = MPI_COMM_NULL;          // the progress thread's alone
  std::unique_ptr<MpiProgressThread> progress_;  // started by the first asynchronous collective
};

}  // namespace llamarec
