#include "distributed/nccl_communicator.h"

#include "core/error.h"
#include "distributed/collective_check.h"
#include "distributed/mpi_context.h"
#ifdef LLAMAREC_WITH_NCCL
#include "distributed/cuda/nccl_ops.h"
#include "distributed/cuda/torch_cuda_stream.h"
#endif

namespace llamarec {

#ifdef LLAMAREC_WITH_NCCL
namespace {

// nccl_ops throws std::runtime_error (it cannot include our headers); name the operation.
template <class F>
auto nccl_call(const char* op, F&& call) {
  try {
    return call();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("{}: {}", op, e.what());
  }
}

bool nccl_reduces(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32:
    case torch::kFloat64:
    case torch::kBFloat16:
    case torch::kFloat16:
    case torch::kInt32:
    case torch::kInt64:
    case torch::kInt8:
    case torch::kUInt8:
      return true;
    default:
      return false;
  }
}

nccl::DataType nccl_type(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32:
      return nccl::DataType::kFloat32;
    case torch::kFloat64:
      return nccl::DataType::kFloat64;
    case torch::kBFloat16:
      return nccl::DataType::kBFloat16;
    case torch::kFloat16:
      return nccl::DataType::kFloat16;
    case torch::kInt32:
      return nccl::DataType::kInt32;
    case torch::kInt64:
      return nccl::DataType::kInt64;
    case torch::kInt8:
      return nccl::DataType::kInt8;
    default:
      return nccl::DataType::kUInt8;
  }
}

nccl::RedOp nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return nccl::RedOp::kSum;
    case ReduceOp::kMax:
      return nccl::RedOp::kMax;
    case ReduceOp::kAvg:
      return nccl::has_avg() ? nccl::RedOp::kAvg : nccl::RedOp::kSum;
  }
  return nccl::RedOp::kSum;
}

// The cudaStream_t of LibTorch's current stream on `device`.
void* current_stream(const torch::Device& device) {
#ifdef LLAMAREC_TORCH_CUDA
  return current_torch_cuda_stream(device.index());
#else
  fail("nccl backend: this build has no CUDA LibTorch, so it has no CUDA stream for {}", device.str());
#endif
}

class NcclCommunicator : public Communicator {
 public:
  explicit NcclCommunicator(MPI_Comm comm) : Communicator(std::make_unique<CollectiveCheck>(comm)) {
    // Setup problems (no GPU on one rank, no NCCL id) are agreed on first, so that no rank is left
    // waiting in ncclCommInitRank for a rank that already gave up.
    std::string problem;
    nccl::UniqueId id{};
    try {
      const int devices = nccl::device_count();
      if (devices == 0) {
        problem = fmt::format("nccl backend: rank {} sees no CUDA device", rank());
      } else {
        const int device = local_rank() % devices;
        nccl::set_device(device);
        set_device(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device)));
        if (rank() == 0) id = nccl::get_unique_id();
      }
    } catch (const std::exception& e) {
      problem = fmt::format("nccl backend setup: {}", e.what());
    }
    CollectiveDescriptor setup;
    agree(setup, problem, [] { return std::string("nccl setup"); });
    mpiCheck(MPI_Bcast(id.data(), static_cast<int>(id.size()), MPI_BYTE, 0, comm));
    comm_ = nccl_call("ncclCommInitRank", [&] { return nccl::comm_init_rank(size(), id, rank()); });
  }

  ~NcclCommunicator() override {
    try {
      nccl::comm_destroy(comm_);
    } catch (const std::exception&) {
      // Destruction during unwinding: the communicator is unusable either way.
    }
  }

  const char* backend() const override { return "nccl"; }

 protected:
  void run_all_reduce(torch::Tensor& tensor, ReduceOp op) override {
    void* stream = current_stream(device());
    nccl_call("all_reduce", [&] {
      nccl::all_reduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()),
                       nccl_op(op), comm_, stream);
    });
    if (op == ReduceOp::kAvg && !nccl::has_avg()) tensor.div_(size());
  }

  // Moves copy bytes, so every dtype travels.
  void run_all_gather(const torch::Tensor& shard, torch::Tensor& full) override {
    void* stream = current_stream(device());
    nccl_call("all_gather", [&] {
      nccl::all_gather(shard.data_ptr(), full.data_ptr(), shard.nbytes(), nccl::DataType::kUInt8, comm_, stream);
    });
  }

  void run_reduce_scatter(const torch::Tensor& full, torch::Tensor& shard, ReduceOp op) override {
    void* stream = current_stream(device());
    nccl_call("reduce_scatter", [&] {
      nccl::reduce_scatter(full.data_ptr(), shard.data_ptr(), shard.numel(), nccl_type(full.scalar_type()), nccl_op(op),
                           comm_, stream);
    });
    if (op == ReduceOp::kAvg && !nccl::has_avg()) shard.div_(size());
  }

  void run_broadcast(torch::Tensor& tensor, int root) override {
    void* stream = current_stream(device());
    nccl_call("broadcast", [&] {
      nccl::broadcast(tensor.data_ptr(), tensor.nbytes(), nccl::DataType::kUInt8, root, comm_, stream);
    });
  }

  std::string dtype_problem(torch::ScalarType dtype, bool reduces) const override {
    if (!reduces || nccl_reduces(dtype)) return "";
    return "the nccl backend reduces only float32, float64, bfloat16, float16, int32, int64, int8 and uint8";
  }

 private:
  void* comm_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm) {
#ifndef LLAMAREC_TORCH_CUDA
  fail(
      "nccl backend: this build has no CUDA LibTorch (NCCL {} is linked, but LibTorch is CPU-only; configure "
      "with a CUDA LibTorch first on CMAKE_PREFIX_PATH)",
      nccl_call("ncclGetVersion", [] { return nccl::version(); }));
#endif
  return std::make_unique<NcclCommunicator>(comm);
}

#else

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm) {
  fail(
      "nccl backend: this build has no NCCL (CUDA runtime and nccl.h were not found at configure time; set "
      "CUDA_HOME / NCCL_HOME and LLAMAREC_CUDA=ON)");
}

#endif

}  // namespace llamarec
