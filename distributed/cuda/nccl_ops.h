// Thin checked wrappers over the NCCL and CUDA runtime calls the NCCL communicator needs. They take
// raw pointers, element counts and our own enums, and pass streams and communicators as void*, so
// that neither this header nor its callers need nccl.h, cuda_runtime.h or LibTorch's c10/cuda
// headers (Debian's CPU LibTorch ships an incomplete set). Failures throw std::runtime_error naming
// the call, file and line and NCCL's/CUDA's message.
#pragma once
#include <array>
#include <cstddef>
#include <string>

namespace llamarec::nccl {

enum class DataType { kInt8, kUInt8, kInt32, kInt64, kFloat16, kFloat32, kFloat64, kBFloat16 };
enum class RedOp { kSum, kMax, kAvg };

// ncclUniqueId, as bytes (NCCL_UNIQUE_ID_BYTES = 128), so that it can be sent over MPI.
using UniqueId = std::array<char, 128>;

// NCCL's version code of the loaded library (e.g. 22809 for 2.28.9).
int version();
// Whether RedOp::kAvg is native (NCCL >= 2.10 at build time).
bool has_avg();
// Needs no GPU: only rank 0 calls it, then broadcasts the id.
UniqueId get_unique_id();

int device_count();
void set_device(int device);

// ncclCommInitRank on the current device; the handle is an ncclComm_t.
void* comm_init_rank(int nranks, const UniqueId& id, int rank);
void comm_destroy(void* comm);
// Ends the communicator's pending and future operations (their kernels return); callable from any
// thread while another is inside NCCL or waiting on the stream.
void comm_abort(void* comm);
// ncclCommGetAsyncError as text: "" for success (and for in-progress), else NCCL's message.
std::string comm_async_error(void* comm);

// A CUDA event (disable-timing) recorded on `stream` now; event_done polls it (cudaEventQuery)
// and throws on a CUDA error. Thread-safe: the watchdog polls and destroys on its own thread.
void* event_record(void* stream);
bool event_done(void* event);
void event_destroy(void* event);
// Work enqueued on `stream` after this call waits until `event` (as recorded by now) has completed.
void stream_wait_event(void* stream, void* event);
// A non-blocking stream (no implicit sync with the legacy default stream) on the current device.
void* stream_create();
void stream_destroy(void* stream);

// Enqueued on `stream` (a cudaStream_t); `count`s are elements of `type`. In place when send == recv.
void all_reduce(const void* send, void* recv, size_t count, DataType type, RedOp op, void* comm, void* stream);
// recv holds nranks * send_count elements, rank r's block at r * send_count.
void all_gather(const void* send, void* recv, size_t send_count, DataType type, void* comm, void* stream);
// send holds nranks * recv_count elements.
void reduce_scatter(const void* send, void* recv, size_t recv_count, DataType type, RedOp op, void* comm, void* stream);
void broadcast(void* buffer, size_t count, DataType type, int root, void* comm, void* stream);

}  // namespace llamarec::nccl
