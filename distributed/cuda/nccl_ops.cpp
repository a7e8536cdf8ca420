// Only nccl.h, cuda_runtime.h and std headers here (see nccl_ops.h).
#include "distributed/cuda/nccl_ops.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <stdexcept>

// Checked calls: a failure becomes a std::runtime_error naming the call, place and reason.
#define ncclCheck(call)                                                                                    \
  do {                                                                                                     \
    ncclResult_t nccl_status_ = (call);                                                                    \
    if (nccl_status_ != ncclSuccess) ::llamarec::nccl::nccl_fail(#call, nccl_status_, __FILE__, __LINE__); \
  } while (0)
#define cudaCheck(call)                                                                                    \
  do {                                                                                                     \
    cudaError_t cuda_status_ = (call);                                                                     \
    if (cuda_status_ != cudaSuccess) ::llamarec::nccl::cuda_fail(#call, cuda_status_, __FILE__, __LINE__); \
  } while (0)

namespace llamarec::nccl {
namespace {

[[noreturn]] void nccl_fail(const char* call, ncclResult_t status, const char* file, int line) {
  std::string message = std::string("NCCL error in ") + call + " (" + file + ":" + std::to_string(line) +
                        "): " + ncclGetErrorString(status);
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0)
  const char* detail = ncclGetLastError(nullptr);
  if (detail != nullptr && *detail != '\0') message += std::string(" (") + detail + ")";
#endif
  throw std::runtime_error(message);
}

[[noreturn]] void cuda_fail(const char* call, cudaError_t status, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA error in ") + call + " (" + file + ":" + std::to_string(line) +
                           "): " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status));
}

ncclDataType_t to_nccl(DataType type) {
  switch (type) {
    case DataType::kInt8:
      return ncclInt8;
    case DataType::kUInt8:
      return ncclUint8;
    case DataType::kInt32:
      return ncclInt32;
    case DataType::kInt64:
      return ncclInt64;
    case DataType::kFloat16:
      return ncclFloat16;
    case DataType::kFloat32:
      return ncclFloat32;
    case DataType::kFloat64:
      return ncclFloat64;
    case DataType::kBFloat16:
      return ncclBfloat16;
  }
  throw std::runtime_error("nccl: unknown DataType");
}

ncclRedOp_t to_nccl(RedOp op) {
  switch (op) {
    case RedOp::kSum:
      return ncclSum;
    case RedOp::kMax:
      return ncclMax;
    case RedOp::kAvg:
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 10, 0)
      return ncclAvg;
#else
      throw std::runtime_error("nccl: ncclAvg needs NCCL >= 2.10 (reduce with sum and divide)");
#endif
  }
  throw std::runtime_error("nccl: unknown RedOp");
}

ncclComm_t as_comm(void* comm) { return static_cast<ncclComm_t>(comm); }
cudaStream_t as_stream(void* stream) { return static_cast<cudaStream_t>(stream); }

}  // namespace

int version() {
  int code = 0;
  ncclCheck(ncclGetVersion(&code));
  return code;
}

bool has_avg() {
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 10, 0)
  return true;
#else
  return false;
#endif
}

UniqueId get_unique_id() {
  static_assert(sizeof(ncclUniqueId) == sizeof(UniqueId), "NCCL_UNIQUE_ID_BYTES changed");
  ncclUniqueId id;
  ncclCheck(ncclGetUniqueId(&id));
  UniqueId bytes;
  std::memcpy(bytes.data(), &id, sizeof(id));
  return bytes;
}

int device_count() {
  int count = 0;
  cudaCheck(cudaGetDeviceCount(&count));
  return count;
}

void set_device(int device) { cudaCheck(cudaSetDevice(device)); }

void* comm_init_rank(int nranks, const UniqueId& id, int rank) {
  ncclUniqueId nccl_id;
  std::memcpy(&nccl_id, id.data(), sizeof(nccl_id));
  ncclComm_t comm = nullptr;
  ncclCheck(ncclCommInitRank(&comm, nranks, nccl_id, rank));
  return comm;
}

void comm_destroy(void* comm) {
  if (comm != nullptr) ncclCheck(ncclCommDestroy(as_comm(comm)));
}

void comm_abort(void* comm) {
  if (comm != nullptr) ncclCheck(ncclCommAbort(as_comm(comm)));
}

std::string comm_async_error(void* comm) {
  ncclResult_t status = ncclSuccess;
  ncclCheck(ncclCommGetAsyncError(as_comm(comm), &status));
  if (status == ncclSuccess) return "";
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
  if (status == ncclInProgress) return "";
#endif
  std::string message = std::string("NCCL asynchronous error: ") + ncclGetErrorString(status);
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0)
  const char* detail = ncclGetLastError(as_comm(comm));
  if (detail != nullptr && *detail != '\0') message += std::string(" (") + detail + ")";
#endif
  return message;
}

void* event_record(void* stream) {
  cudaEvent_t event = nullptr;
  cudaCheck(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  const cudaError_t status = cudaEventRecord(event, as_stream(stream));
  if (status != cudaSuccess) {
    cudaEventDestroy(event);
    cuda_fail("cudaEventRecord(event, stream)", status, __FILE__, __LINE__);
  }
  return event;
}

bool event_done(void* event) {
  const cudaError_t status = cudaEventQuery(static_cast<cudaEvent_t>(event));
  if (status == cudaErrorNotReady) {
    cudaGetLastError();  // NotReady is not sticky, but it is recorded as the last error
    return false;
  }
  cudaCheck(status);
  return true;
}

void event_destroy(void* event) {
  if (event != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(event));
}

void stream_wait_event(void* stream, void* event) {
  cudaCheck(cudaStreamWaitEvent(as_stream(stream), static_cast<cudaEvent_t>(event), 0));
}

void* stream_create() {
  cudaStream_t stream = nullptr;
  cudaCheck(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  return stream;
}

void stream_destroy(void* stream) {
  if (stream != nullptr) cudaStreamDestroy(as_stream(stream));
}

void all_reduce(const void* send, void* recv, size_t count, DataType type, RedOp op, void* comm, void* stream) {
  ncclCheck(ncclAllReduce(send, recv, count, to_nccl(type), to_nccl(op), as_comm(comm), as_stream(stream)));
}

void all_gather(const void* send, void* recv, size_t send_count, DataType type, void* comm, void* stream) {
  ncclCheck(ncclAllGather(send, recv, send_count, to_nccl(type), as_comm(comm), as_stream(stream)));
}

void reduce_scatter(const void* send, void* recv, size_t recv_count, DataType type, RedOp op, void* comm,
                    void* stream) {
  ncclCheck(ncclReduceScatter(send, recv, recv_count, to_nccl(type), to_nccl(op), as_comm(comm), as_stream(stream)));
}

void broadcast(void* buffer, size_t count, DataType type, int root, void* comm, void* stream) {
  ncclCheck(ncclBroadcast(buffer, buffer, count, to_nccl(type), root, as_comm(comm), as_stream(stream)));
}

}  // namespace llamarec::nccl
