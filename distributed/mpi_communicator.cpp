#include "distributed/mpi_communicator.h"

#include <climits>

#include "core/error.h"
#include "distributed/collective_check.h"
#include "distributed/mpi_context.h"
#include "distributed/mpi_progress_thread.h"

namespace llamarec {
namespace {

// bfloat16/float16 have no MPI type. They are reduced as float32 (converted, reduced, rounded back
// once), so that the result is the fp32 sum of the inputs rounded to the dtype, exactly what one
// process computes, at any world size; a custom MPI_Op on 2-byte elements would round after every
// pairwise step instead. The cost (2x bytes) is acceptable on CPU, where these are small.
bool reduced_as_float(torch::ScalarType dtype) { return dtype == torch::kBFloat16 || dtype == torch::kFloat16; }

MPI_Datatype reduce_type(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32:
      return MPI_FLOAT;
    case torch::kFloat64:
      return MPI_DOUBLE;
    case torch::kInt32:
      return MPI_INT32_T;
    case torch::kInt64:
      return MPI_INT64_T;
    default:
      return MPI_DATATYPE_NULL;
  }
}

// Moves copy bits: any dtype travels as the unsigned integer of its width.
MPI_Datatype move_type(size_t element_size) {
  switch (element_size) {
    case 1:
      return MPI_UINT8_T;
    case 2:
      return MPI_UINT16_T;
    case 4:
      return MPI_UINT32_T;
    case 8:
      return MPI_UINT64_T;
    default:
      return MPI_DATATYPE_NULL;
  }
}

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::kMax ? MPI_MAX : MPI_SUM; }

int mpi_count(const char* op, int64_t count) {
  if (count > INT_MAX) fail("{}: {} elements exceed MPI's int count; split the tensor", op, count);
  return static_cast<int>(count);
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm) : Communicator(std::make_unique<CollectiveCheck>(comm)) {
  mpiCheck(MPI_Comm_dup(comm, &comm_));
  mpiCheck(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  mpiCheck(MPI_Comm_dup(comm, &async_comm_));
  mpiCheck(MPI_Comm_set_errhandler(async_comm_, MPI_ERRORS_RETURN));
}

MpiCommunicator::~MpiCommunicator() {
  progress_.reset();  // completes what it still holds before its communicator goes
  if (!MpiContext::initialized()) return;
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  if (async_comm_ != MPI_COMM_NULL) MPI_Comm_free(&async_comm_);
}

std::string MpiCommunicator::dtype_problem(torch::ScalarType dtype, bool reduces) const {
  if (reduces) {
    if (reduce_type(dtype) != MPI_DATATYPE_NULL || reduced_as_float(dtype)) return "";
    return "the mpi backend reduces only float32, float64, bfloat16, float16, int32 and int64";
  }
  if (move_type(c10::elementSize(dtype)) != MPI_DATATYPE_NULL) return "";
  return "the mpi backend moves only dtypes of 1, 2, 4 or 8 bytes";
}

void MpiCommunicator::run_all_reduce(torch::Tensor& tensor, ReduceOp op) {
  if (reduced_as_float(tensor.scalar_type())) {
    torch::Tensor wide = tensor.to(torch::kFloat32);
    run_all_reduce(wide, op);
    tensor.copy_(wide);
    return;
  }
  mpiCheck(MPI_Allreduce(MPI_IN_PLACE, tensor.data_ptr(), mpi_count("all_reduce", tensor.numel()),
                         reduce_type(tensor.scalar_type()), mpi_op(op), comm_));
  if (op == ReduceOp::kAvg) tensor.div_(size());
}

void MpiCommunicator::run_all_gather(const torch::Tensor& shard, torch::Tensor& full) {
  const MPI_Datatype type = move_type(shard.element_size());
  const int count = mpi_count("all_gather", shard.numel());
  mpiCheck(MPI_Allgather(shard.data_ptr(), count, type, full.data_ptr(), count, type, comm_));
}

std::function<void()> MpiCommunicator::start_all_gather(const torch::Tensor& shard, torch::Tensor& full) {
  int level = MPI_THREAD_SINGLE;
  mpiCheck(MPI_Query_thread(&level));
  if (level < MPI_THREAD_MULTIPLE || size() == 1) return Communicator::start_all_gather(shard, full);
  if (!progress_) progress_ = std::make_unique<MpiProgressThread>(async_comm_);
  const MPI_Datatype type = move_type(shard.element_size());
  const int count = mpi_count("all_gather", shard.numel());
  const void* send = shard.data_ptr();
  void* recv = full.data_ptr();
  auto done = std::make_shared<std::future<void>>(progress_->submit([=](MPI_Comm comm) {
    MPI_Request request = MPI_REQUEST_NULL;
    mpiCheck(MPI_Iallgather(send, count, type, recv, count, type, comm, &request));
    return request;
  }));
  return [done] { done->get(); };
}

void MpiCommunicator::run_reduce_scatter(const torch::Tensor& full, torch::Tensor& shard, ReduceOp op) {
  if (reduced_as_float(full.scalar_type())) {
    torch::Tensor wide_shard = torch::empty(shard.sizes(), shard.options().dtype(torch::kFloat32));
    run_reduce_scatter(full.to(torch::kFloat32), wide_shard, op);
    shard.copy_(wide_shard);
    return;
  }
  mpiCheck(MPI_Reduce_scatter_block(full.data_ptr(), shard.data_ptr(), mpi_count("reduce_scatter", shard.numel()),
                                    reduce_type(full.scalar_type()), mpi_op(op), comm_));
  if (op == ReduceOp::kAvg) shard.div_(size());
}

void MpiCommunicator::run_broadcast(torch::Tensor& tensor, int root) {
  mpiCheck(MPI_Bcast(tensor.data_ptr(), mpi_count("broadcast", tensor.numel()), move_type(tensor.element_size()), root,
                     comm_));
}

}  // namespace llamarec
