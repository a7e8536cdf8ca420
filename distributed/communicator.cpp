#include "distributed/communicator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "distributed/collective_check.h"
#include "distributed/mpi_communicator.h"
#include "distributed/mpi_context.h"
#include "distributed/nccl_communicator.h"

namespace llamarec {
namespace {

enum CollectiveOp : int64_t { kAllReduce = 1, kAllGather, kReduceScatter, kBroadcast, kBarrier };

std::string dtype_name(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat32:
      return "float32";
    case torch::kFloat64:
      return "float64";
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kFloat16:
      return "float16";
    case torch::kInt64:
      return "int64";
    case torch::kInt32:
      return "int32";
    case torch::kInt16:
      return "int16";
    case torch::kInt8:
      return "int8";
    case torch::kUInt8:
      return "uint8";
    case torch::kBool:
      return "bool";
    default:
      return c10::toString(dtype);
  }
}

// "float32 [4, 3] on cpu", for messages.
std::string tensor_text(const torch::Tensor& tensor) {
  if (!tensor.defined()) return "an undefined tensor";
  return fmt::format("{} [{}] on {}", dtype_name(tensor.scalar_type()), fmt::join(tensor.sizes(), ", "),
                     tensor.device().str());
}

// The descriptor fields that every collective fills the same way.
CollectiveDescriptor describe(CollectiveOp op, const torch::Tensor& tensor, int64_t output_numel) {
  CollectiveDescriptor d;
  d.fields[CollectiveDescriptor::kOp] = op;
  d.fields[CollectiveDescriptor::kReduceOp] = -1;
  d.fields[CollectiveDescriptor::kRoot] = -1;
  d.fields[CollectiveDescriptor::kDtype] = tensor.defined() ? static_cast<int64_t>(tensor.scalar_type()) : -1;
  d.fields[CollectiveDescriptor::kDevice] = tensor.defined() ? static_cast<int64_t>(tensor.device().type()) : -1;
  d.fields[CollectiveDescriptor::kInputNumel] = tensor.defined() ? tensor.numel() : -1;
  d.fields[CollectiveDescriptor::kOutputNumel] = output_numel;
  d.fields[CollectiveDescriptor::kShape] = tensor.defined() ? shape_fingerprint(tensor.sizes().vec()) : -1;
  return d;
}

// A contiguous tensor that may receive `target`'s values: `target` itself when it is contiguous.
torch::Tensor contiguous_output(const torch::Tensor& target) {
  return target.is_contiguous() ? target : torch::empty(target.sizes(), target.options());
}

}  // namespace

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kAvg:
      return "avg";
    case ReduceOp::kMax:
      return "max";
  }
  return "?";
}

Communicator::Communicator(std::unique_ptr<CollectiveCheck> check)
    : rank_(check->rank()), size_(check->size()), local_rank_(check->local_rank()), check_(std::move(check)) {}

Communicator::~Communicator() = default;

void Communicator::agree(const CollectiveDescriptor& descriptor, const std::string& problem,
                         const std::function<std::string()>& describe) {
  if (checked_) {
    check_->agree(descriptor, problem, describe);
  } else if (!problem.empty()) {
    throw Error(problem);
  }
}

bool Communicator::takes(const torch::Device& device) const {
  return device.type() == device_.type() && (!device_.has_index() || device.index() == device_.index());
}

std::string Communicator::tensor_problem(const char* op, const char* name, const torch::Tensor& tensor,
                                         bool reduces) const {
  if (!tensor.defined()) return fmt::format("{}: {} is an undefined tensor", op, name);
  if (!takes(tensor.device())) {
    return fmt::format("{}: {} is {}, but the {} backend of this rank takes tensors on {}", op, name,
                       tensor_text(tensor), backend(), device_.str());
  }
  const std::string dtype = dtype_problem(tensor.scalar_type(), reduces);
  if (!dtype.empty()) return fmt::format("{}: {} is {}: {}", op, name, tensor_text(tensor), dtype);
  return "";
}

void Communicator::all_reduce(torch::Tensor& tensor, ReduceOp op) {
  torch::NoGradGuard no_grad;
  std::string problem = tensor_problem("all_reduce", "tensor", tensor, true);
  if (problem.empty() && op == ReduceOp::kAvg && !tensor.is_floating_point()) {
    problem =
        fmt::format("all_reduce: avg of integer tensor {} is not defined (use sum and divide)", tensor_text(tensor));
  }
  CollectiveDescriptor d = describe(kAllReduce, tensor, tensor.defined() ? tensor.numel() : -1);
  d.fields[CollectiveDescriptor::kReduceOp] = static_cast<int64_t>(op);
  agree(d, problem, [&] { return fmt::format("all_reduce({}) of {}", reduce_op_name(op), tensor_text(tensor)); });

  if (tensor.numel() == 0) return;
  torch::Tensor work = tensor.contiguous();
  run_all_reduce(work, op);
  if (!work.is_same(tensor)) tensor.copy_(work);
}

bool Communicator::prepare_all_gather(const torch::Tensor& shard, torch::Tensor& full, torch::Tensor& in,
                                      torch::Tensor& out) {
  torch::NoGradGuard no_grad;
  std::string problem = tensor_problem("all_gather", "shard", shard, false);
  if (problem.empty() && full.defined()) {
    problem = tensor_problem("all_gather", "full", full, false);
    if (problem.empty() && full.scalar_type() != shard.scalar_type()) {
      problem =
          fmt::format("all_gather: full is {} but shard is {} (dtypes differ)", tensor_text(full), tensor_text(shard));
    } else if (problem.empty() && full.numel() != size_ * shard.numel()) {
      problem = fmt::format("all_gather: full is {} ({} elements), but {} ranks x shard {} need {}", tensor_text(full),
                            full.numel(), size_, tensor_text(shard), size_ * shard.numel());
    }
  }
  const int64_t full_numel = shard.defined() ? size_ * shard.numel() : -1;
  agree(describe(kAllGather, shard, full_numel), problem,
        [&] { return fmt::format("all_gather of shard {} into full {}", tensor_text(shard), tensor_text(full)); });

  if (!full.defined()) {
    std::vector<int64_t> sizes = shard.sizes().vec();
    if (sizes.empty()) {
      sizes.push_back(size_);
    } else {
      sizes[0] *= size_;
    }
    full = torch::empty(sizes, shard.options());
  }
  if (shard.numel() == 0) return false;
  out = contiguous_output(full);
  in = shard.contiguous();
  // A shard that is a view of `full` (FSDP's flat buffer) would be overwritten while being sent.
  if (in.is_alias_of(out)) in = in.clone();
  return true;
}

void Communicator::all_gather(const torch::Tensor& shard, torch::Tensor& full) {
  torch::Tensor in, out;
  if (!prepare_all_gather(shard, full, in, out)) return;
  torch::NoGradGuard no_grad;
  run_all_gather(in, out);
  if (!out.is_same(full)) full.copy_(out);
}

PendingCollective Communicator::all_gather_async(const torch::Tensor& shard, torch::Tensor& full) {
  torch::Tensor in, out;
  if (!prepare_all_gather(shard, full, in, out)) return PendingCollective();
  auto finish = start_all_gather(in, out);
  // The closure holds `in` and `out` (and `full`'s storage) until the collective is done.
  return PendingCollective([finish = std::move(finish), in, out, full]() mutable {
    if (finish) finish();
    torch::NoGradGuard no_grad;
    if (!out.is_same(full)) full.copy_(out);
  });
}

std::function<void()> Communicator::start_all_gather(const torch::Tensor& shard, torch::Tensor& full) {
  run_all_gather(shard, full);
  return nullptr;
}

PendingCollective& PendingCollective::operator=(PendingCollective&& other) noexcept {
  if (this != &other) {
    if (finish_) {
      try {
        wait();
      } catch (const std::exception&) {
        // Replacing a failed collective: its error was the caller's to read with wait().
      }
    }
    finish_ = std::move(other.finish_);
    other.finish_ = nullptr;
  }
  return *this;
}

PendingCollective::~PendingCollective() {
  if (!finish_) return;
  try {
    wait();
  } catch (const std::exception&) {
    // Unwinding from another error, or the caller never asked: the buffers are safe either way.
  }
}

void PendingCollective::wait() {
  if (!finish_) return;
  auto finish = std::move(finish_);
  finish_ = nullptr;
  finish();
}

void Communicator::reduce_scatter(const torch::Tensor& full, torch::Tensor& shard, ReduceOp op) {
  torch::NoGradGuard no_grad;
  std::string problem = tensor_problem("reduce_scatter", "full", full, true);
  if (problem.empty() && full.numel() % size_ != 0) {
    problem = fmt::format("reduce_scatter: full is {} ({} elements), which {} ranks do not divide", tensor_text(full),
                          full.numel(), size_);
  } else if (problem.empty() && op == ReduceOp::kAvg && !full.is_floating_point()) {
    problem =
        fmt::format("reduce_scatter: avg of integer tensor {} is not defined (use sum and divide)", tensor_text(full));
  } else if (problem.empty() && shard.defined()) {
    problem = tensor_problem("reduce_scatter", "shard", shard, false);
    if (problem.empty() && shard.scalar_type() != full.scalar_type()) {
      problem = fmt::format("reduce_scatter: shard is {} but full is {} (dtypes differ)", tensor_text(shard),
                            tensor_text(full));
    } else if (problem.empty() && shard.numel() * size_ != full.numel()) {
      problem = fmt::format("reduce_scatter: shard is {} ({} elements), but full {} over {} ranks gives {}",
                            tensor_text(shard), shard.numel(), tensor_text(full), size_, full.numel() / size_);
    }
  }
  CollectiveDescriptor d = describe(kReduceScatter, full, full.defined() ? full.numel() / size_ : -1);
  d.fields[CollectiveDescriptor::kReduceOp] = static_cast<int64_t>(op);
  agree(d, problem, [&] {
    return fmt::format("reduce_scatter({}) of full {} into shard {}", reduce_op_name(op), tensor_text(full),
                       tensor_text(shard));
  });

  if (!shard.defined()) {
    std::vector<int64_t> sizes = full.sizes().vec();
    if (!sizes.empty() && sizes[0] % size_ == 0) {
      sizes[0] /= size_;
    } else {
      sizes = {full.numel() / size_};
    }
    shard = torch::empty(sizes, full.options());
  }
  if (full.numel() == 0) return;
  torch::Tensor in = full.contiguous();
  torch::Tensor out = contiguous_output(shard);
  if (out.is_alias_of(in)) out = torch::empty(shard.sizes(), shard.options());
  run_reduce_scatter(in, out, op);
  if (!out.is_same(shard)) shard.copy_(out);
}

void Communicator::broadcast(torch::Tensor& tensor, int root) {
  torch::NoGradGuard no_grad;
  std::string problem = tensor_problem("broadcast", "tensor", tensor, false);
  if (problem.empty() && (root < 0 || root >= size_)) {
    problem = fmt::format("broadcast: root {} is not a rank of this world of size {}", root, size_);
  }
  CollectiveDescriptor d = describe(kBroadcast, tensor, tensor.defined() ? tensor.numel() : -1);
  d.fields[CollectiveDescriptor::kRoot] = root;
  agree(d, problem, [&] { return fmt::format("broadcast(root {}) of {}", root, tensor_text(tensor)); });

  if (tensor.numel() == 0) return;
  torch::Tensor work = tensor.contiguous();
  run_broadcast(work, root);
  if (!work.is_same(tensor)) tensor.copy_(work);
}

void Communicator::barrier() {
  CollectiveDescriptor d;
  d.fields.fill(-1);
  d.fields[CollectiveDescriptor::kOp] = kBarrier;
  if (checked_ && size_ > 1) {
    // The check's MPI_Allreduce cannot complete before every rank entered it: it is the barrier.
    check_->agree(d, "", [] { return std::string("barrier"); });
  } else {
    check_->barrier();
  }
}

std::unique_ptr<Communicator> make_communicator(const std::string& backend, const torch::Device& device,
                                                std::chrono::milliseconds nccl_timeout) {
  if (!MpiContext::initialized()) {
    fail("make_communicator(\"{}\"): MPI is not initialised (create an MpiContext first)", backend);
  }
  if (backend == "mpi") {
    if (!device.is_cpu()) {
      fail("make_communicator: the mpi backend takes cpu tensors, not {} (use backend \"nccl\" or \"auto\")",
           device.str());
    }
    return std::make_unique<MpiCommunicator>();
  }
  if (backend == "nccl") return make_nccl_communicator(nccl_timeout);
  if (backend == "auto") {
    if (device.is_cpu()) return std::make_unique<MpiCommunicator>();
    if (device.is_cuda()) return make_nccl_communicator(nccl_timeout);
    fail("make_communicator: backend \"auto\" has no backend for {} tensors (cpu: mpi, cuda: nccl)", device.str());
  }
  fail("make_communicator: unknown backend \"{}\" (expected auto, mpi or nccl)", backend);
}

}  // namespace llamarec
