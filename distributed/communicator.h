// Collective communication between the ranks of an MPI world: the MPI backend moves CPU tensors,
// the NCCL backend CUDA tensors (bootstrapped over MPI). Every collective first checks, with one
// tiny MPI_Allreduce, that all ranks called the same collective on matching tensors; a mismatch or
// a rank-local problem (wrong device, bad sizes) throws llamarec::Error on every rank instead of
// hanging or returning garbage. A rank that never calls the collective still hangs the others.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace llamarec {

class CollectiveCheck;
struct CollectiveDescriptor;

// A collective in flight (Communicator::all_gather_async). wait() returns once its output may be
// read (on the NCCL backend: once the current stream is ordered after it) and rethrows its error;
// the destructor waits too, so the buffers it writes can never be freed under it. Move-only.
class PendingCollective {
 public:
  PendingCollective() = default;  // nothing in flight
  explicit PendingCollective(std::function<void()> finish) : finish_(std::move(finish)) {}
  PendingCollective(PendingCollective&& other) noexcept : finish_(std::move(other.finish_)) { other.finish_ = nullptr; }
  PendingCollective& operator=(PendingCollective&& other) noexcept;
  PendingCollective(const PendingCollective&) = delete;
  PendingCollective& operator=(const PendingCollective&) = delete;
  ~PendingCollective();

  void wait();
  bool pending() const { return static_cast<bool>(finish_); }

 private:
  std::function<void()> finish_;
};

enum class ReduceOp { kSum, kAvg, kMax };

// "sum", "avg", "max".
const char* reduce_op_name(ReduceOp op);

class Communicator {
 public:
  virtual ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  // "mpi" or "nccl".
  virtual const char* backend() const = 0;
  // Where this communicator's tensors must live: cpu (mpi) or cuda:<local device> (nccl).
  const torch::Device& device() const { return device_; }
  // Whether a tensor on `device` can go into a collective as it is (cuda matches any index when
  // device() has none).
  bool takes(const torch::Device& device) const;
  int rank() const { return rank_; }
  int size() const { return size_; }
  // Rank among the processes on this node.
  int local_rank() const { return local_rank_; }

  // In place. avg = sum / size(); avg of integer tensors is an error (use sum and divide).
  // Floating results equal the single-process reduction of the same inputs (bf16: summed in fp32,
  // rounded once).
  void all_reduce(torch::Tensor& tensor, ReduceOp op = ReduceOp::kSum);
  // full = the shards of ranks 0..size-1 concatenated in flat (row-major) order, i.e. along dim 0
  // when the shards are [n, ...] and full is [size*n, ...]. An undefined `full` is allocated as
  // [size*n, ...] (or [size] for a 0-dim shard); a given one must have size()*shard.numel()
  // elements and the shard's dtype.
  void all_gather(const torch::Tensor& shard, torch::Tensor& full);
  // The same all-gather, returning while it runs: the arguments are checked and agreed on now
  // (errors throw here, on every rank), `full` is allocated now and must not be read, nor `shard`
  // written, before wait(). Ranks must start their asynchronous collectives in the same order.
  // mpi: a progress thread drives it on its own MPI communicator (needs MPI_THREAD_MULTIPLE, else it
  // completes before returning); nccl: it runs on the communicator's stream while the current stream
  // computes.
  PendingCollective all_gather_async(const torch::Tensor& shard, torch::Tensor& full);
  // shard = the reduction over ranks of this rank's slice full.flatten()[rank*n, (rank+1)*n), with
  // n = full.numel() / size(). An undefined `shard` is allocated as [full.size(0)/size, ...] (flat
  // [n] when dim 0 does not divide).
  void reduce_scatter(const torch::Tensor& full, torch::Tensor& shard, ReduceOp op = ReduceOp::kSum);
  // In place: every rank ends with root's values.
  void broadcast(torch::Tensor& tensor, int root = 0);
  // Returns once every rank has called it (host-side; the NCCL backend does not wait for its stream).
  void barrier();

  // The descriptor check before each collective (on by default). Off saves one small MPI_Allreduce
  // per collective; a mismatch then goes undetected and a local error throws on that rank only.
  void set_checked(bool checked) { checked_ = checked; }
  bool checked() const { return checked_; }

 protected:
  // Rank, size and local rank come from `check`'s MPI communicator; the device starts as cpu.
  explicit Communicator(std::unique_ptr<CollectiveCheck> check);
  void set_device(const torch::Device& device) { device_ = device; }

  // Throws on every rank when any rank reported a problem or the descriptors differ (or, unchecked,
  // when this rank has a problem).
  void agree(const CollectiveDescriptor& descriptor, const std::string& problem,
             const std::function<std::string()>& describe);

  // Backends receive validated, contiguous tensors on device() whose dtype passed dtype_problem().
  virtual void run_all_reduce(torch::Tensor& tensor, ReduceOp op) = 0;
  virtual void run_all_gather(const torch::Tensor& shard, torch::Tensor& full) = 0;
  // Starts run_all_gather's work and returns what completes it; the default runs it now.
  virtual std::function<void()> start_all_gather(const torch::Tensor& shard, torch::Tensor& full);
  virtual void run_reduce_scatter(const torch::Tensor& full, torch::Tensor& shard, ReduceOp op) = 0;
  virtual void run_broadcast(torch::Tensor& tensor, int root) = 0;
  // Why this backend cannot move (reduces == false) or reduce `dtype`; empty when it can.
  virtual std::string dtype_problem(torch::ScalarType dtype, bool reduces) const = 0;

 private:
  std::string tensor_problem(const char* op, const char* name, const torch::Tensor& tensor, bool reduces) const;
  // Checks and agrees on an all-gather, allocates an undefined `full`; returns false when there is
  // nothing to move. `in`/`out`: the contiguous, non-aliasing tensors the backend moves.
  bool prepare_all_gather(const torch::Tensor& shard, torch::Tensor& full, torch::Tensor& in, torch::Tensor& out);

  torch::Device device_ = torch::kCPU;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  bool checked_ = true;
  std::unique_ptr<CollectiveCheck> check_;
};

// How long an NCCL collective may run before the job is ended (PyTorch's default, 10 minutes).
// The MPI backend has no timeout: a dead MPI peer is ended by mpirun / srun.
constexpr std::chrono::seconds kDefaultCollectiveTimeout{600};

// backend: "mpi" (CPU tensors), "nccl" (CUDA tensors) or "auto" (nccl when `device` is CUDA and
// the build has NCCL, else mpi). Needs MPI initialised (an MpiContext); a world of size 1 runs
// without mpirun. Every rank of MPI_COMM_WORLD must call it (it is collective).
std::unique_ptr<Communicator> make_communicator(const std::string& backend = "auto",
                                                const torch::Device& device = torch::kCPU,
                                                std::chrono::milliseconds nccl_timeout = kDefaultCollectiveTimeout);

}  // namespace llamarec
