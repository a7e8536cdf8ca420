#include "distributed/nccl_communicator.h"

#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "distributed/async_watchdog.h"
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

// The watchdog's last word: the main thread may be blocked on the stream, so this thread reports
// and ends the process; mpirun / srun then end the other ranks.
[[noreturn]] void end_process_on_nccl_failure(int rank, const std::string& message) {
  std::fprintf(stderr, "llamarec: error: rank %d: nccl watchdog: %s; the communicator was aborted, ending the job\n",
               rank, message.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(MPI_Comm comm, std::chrono::milliseconds timeout)
      : Communicator(std::make_unique<CollectiveCheck>(comm)) {
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
    start_watchdog(timeout);
    // The init itself is watched too: a peer that stops between the broadcast and the init would
    // leave this rank in ncclCommInitRank for ever. It cannot be aborted, only ended.
    auto initialised = std::make_shared<std::atomic<bool>>(false);
    watchdog_->watch("ncclCommInitRank", [initialised] { return initialised->load(); });
    comm_ = nccl_call("ncclCommInitRank", [&] { return nccl::comm_init_rank(size(), id, rank()); });
    initialised->store(true);
    stream_ = nccl_call("cudaStreamCreateWithFlags", [] { return nccl::stream_create(); });
  }

  ~NcclCommunicator() override {
    watchdog_.reset();  // before the communicator it polls
    try {
      nccl::comm_destroy(comm_);
    } catch (const std::exception&) {
      // Destruction during unwinding: the communicator is unusable either way.
    }
    nccl::stream_destroy(stream_);
  }

  const char* backend() const override { return "nccl"; }

 protected:
  void run_all_reduce(torch::Tensor& tensor, ReduceOp op) override {
    wait_on_current(enqueue("all_reduce", [&](void* stream) {
      nccl::all_reduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()),
                       nccl_op(op), comm_, stream);
    }));
    if (op == ReduceOp::kAvg && !nccl::has_avg()) tensor.div_(size());
  }

  // Moves copy bytes, so every dtype travels.
  void run_all_gather(const torch::Tensor& shard, torch::Tensor& full) override {
    wait_on_current(start_all_gather_event(shard, full));
  }

  std::function<void()> start_all_gather(const torch::Tensor& shard, torch::Tensor& full) override {
    auto done = start_all_gather_event(shard, full);
    // The stream that reads `full` is the one current when wait() is called.
    return [this, done] { wait_on_current(done); };
  }

  void run_reduce_scatter(const torch::Tensor& full, torch::Tensor& shard, ReduceOp op) override {
    wait_on_current(enqueue("reduce_scatter", [&](void* stream) {
      nccl::reduce_scatter(full.data_ptr(), shard.data_ptr(), shard.numel(), nccl_type(full.scalar_type()), nccl_op(op),
                           comm_, stream);
    }));
    if (op == ReduceOp::kAvg && !nccl::has_avg()) shard.div_(size());
  }

  void run_broadcast(torch::Tensor& tensor, int root) override {
    wait_on_current(enqueue("broadcast", [&](void* stream) {
      nccl::broadcast(tensor.data_ptr(), tensor.nbytes(), nccl::DataType::kUInt8, root, comm_, stream);
    }));
  }

  std::string dtype_problem(torch::ScalarType dtype, bool reduces) const override {
    if (!reduces || nccl_reduces(dtype)) return "";
    return "the nccl backend reduces only float32, float64, bfloat16, float16, int32, int64, int8 and uint8";
  }

 private:
  void start_watchdog(std::chrono::milliseconds timeout) {
    const int device_index = device().index();
    const int my_rank = rank();
    AsyncWatchdog::Hooks hooks;
    hooks.on_start = [device_index] { nccl::set_device(device_index); };
    hooks.async_error = [this] { return comm_ == nullptr ? std::string() : nccl::comm_async_error(comm_); };
    hooks.on_failure = [this, my_rank](const std::string& message) {
      if (comm_ != nullptr) {
        try {
          nccl::comm_abort(comm_);
        } catch (const std::exception&) {
          // Ending the process follows either way.
        }
      }
      end_process_on_nccl_failure(my_rank, message);
    };
    watchdog_ = std::make_unique<AsyncWatchdog>(timeout, std::chrono::milliseconds(100), std::move(hooks));
  }

  using Event = std::shared_ptr<void>;

  // Every collective runs on this communicator's own stream, as PyTorch's ProcessGroupNCCL does:
  // NCCL does not promise that two operations of one communicator on different streams progress
  // together, and one stream keeps them in issue order on every rank. The stream first waits for
  // the work the current stream has queued (the inputs); the returned event marks completion.
  template <class F>
  Event enqueue(const char* op, F&& launch) {
    const Event ready(nccl::event_record(current_stream(device())), nccl::event_destroy);
    nccl::stream_wait_event(stream_, ready.get());
    nccl_call(op, [&] { launch(stream_); });
    watch(op, stream_);
    return Event(nccl::event_record(stream_), nccl::event_destroy);
  }

  Event start_all_gather_event(const torch::Tensor& shard, torch::Tensor& full) {
    return enqueue("all_gather", [&](void* stream) {
      nccl::all_gather(shard.data_ptr(), full.data_ptr(), shard.nbytes(), nccl::DataType::kUInt8, comm_, stream);
    });
  }

  // Orders the current stream after `done`: what it computes next sees the collective's output,
  // and memory freed afterwards is not reused before the collective finished with it.
  void wait_on_current(const Event& done) { nccl::stream_wait_event(current_stream(device()), done.get()); }

  // An event after the collective on `stream`, polled by the watchdog until it completes.
  void watch(const char* op, void* stream) {
    std::shared_ptr<void> event(nccl::event_record(stream), nccl::event_destroy);
    watchdog_->watch(fmt::format("{} #{}", op, ++collectives_), [event] { return nccl::event_done(event.get()); });
  }

  std::atomic<void*> comm_{nullptr};
  void* stream_ = nullptr;  // cudaStream_t of every collective of this communicator
  int64_t collectives_ = 0;
  std::unique_ptr<AsyncWatchdog> watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(std::chrono::milliseconds timeout, MPI_Comm comm) {
#ifndef LLAMAREC_TORCH_CUDA
  fail(
      "nccl backend: this build has no CUDA LibTorch (NCCL {} is linked, but LibTorch is CPU-only; configure "
      "with a CUDA LibTorch first on CMAKE_PREFIX_PATH)",
      nccl_call("ncclGetVersion", [] { return nccl::version(); }));
#endif
  return std::make_unique<NcclCommunicator>(comm, timeout);
}

#else

std::unique_ptr<Communicator> make_nccl_communicator(std::chrono::milliseconds, MPI_Comm) {
  fail(
      "nccl backend: this build has no NCCL (CUDA runtime and nccl.h were not found at configure time; set "
      "CUDA_HOME / NCCL_HOME and LLAMAREC_CUDA=ON)");
}

#endif

}  // namespace llamarec
