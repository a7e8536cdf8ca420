#include "distributed/fsdp_unit.h"

#include <ATen/Context.h>
#include <ATen/core/ivalue.h>

#include "core/error.h"
#include "core/profile_scope.h"
#include "models/nf4.h"

namespace llamarec {

namespace {

int64_t element_count(const TensorSpec& spec) {
  int64_t n = 1;
  for (const auto d : spec.shape) n *= d;
  return n;
}

}  // namespace

FsdpUnit::FsdpUnit(std::string name, std::vector<TensorSpec> specs, Communicator& comm, torch::Dtype dtype,
                   torch::Device device, bool shard, std::vector<bool> quantized)
    : name_(std::move(name)), specs_(std::move(specs)), comm_(comm), dtype_(dtype), sharded_(shard) {
  if (specs_.empty()) fail("FSDP unit '{}' has no tensors", name_);
  if (!quantized.empty() && quantized.size() != specs_.size())
    fail("FSDP unit '{}': {} quantization flags for {} tensors", name_, quantized.size(), specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) {
    Part& part = !quantized.empty() && quantized[i] ? nf4_ : dense_;
    part.members.push_back(i);
    part.offsets.push_back(part.numel);
    part.numel += element_count(specs_[i]);
  }
  const auto options = torch::TensorOptions().device(device);
  dense_.shard_numel = (dense_.numel + ranks() - 1) / ranks();
  dense_.shard = torch::zeros({dense_.shard_numel}, options.dtype(dtype));
  if (nf4_.numel > 0) {
    // Whole double-quantization groups per rank: the codes then do not depend on the rank count.
    const int64_t group = kNf4GroupSize * ranks();
    nf4_.shard_numel = (nf4_.numel + group - 1) / group * kNf4GroupSize;
    nf4_.shard = torch::zeros({nf4_packed_bytes(nf4_.shard_numel)}, options.dtype(torch::kUInt8));
  }
}

torch::Tensor FsdpUnit::read_slice(const Part& part, const SliceReader& read, torch::Dtype dtype) const {
  const int64_t begin = sharded_ ? comm_.rank() * part.shard_numel : 0;
  const int64_t end = std::min(begin + part.shard_numel, part.numel);
  auto slice = torch::zeros({part.shard_numel}, torch::TensorOptions().dtype(dtype).device(dense_.shard.device()));
  for (size_t k = 0; k < part.members.size(); ++k) {
    const auto& spec = specs_[part.members[k]];
    const int64_t t_begin = part.offsets[k];
    const int64_t t_end = t_begin + element_count(spec);
    const int64_t lo = std::max(begin, t_begin), hi = std::min(end, t_end);
    if (lo >= hi) continue;
    const auto values = read(spec, lo - t_begin, hi - t_begin, dtype);
    if (values.numel() != hi - lo)
      fail("FSDP unit '{}': reading {}[{}, {}) gave {} elements", name_, spec.name, lo - t_begin, hi - t_begin,
           values.numel());
    slice.narrow(0, lo - begin, hi - lo).copy_(values.reshape(-1));
  }
  return slice;
}

void FsdpUnit::load(const SliceReader& read) {
  torch::NoGradGuard no_grad;
  if (dense_.numel > 0) dense_.shard.copy_(read_slice(dense_, read, dtype_));
  if (nf4_.numel > 0) {
    try {
      nf4_.shard.copy_(nf4_pack(quantize_nf4(read_slice(nf4_, read, torch::kFloat32))));
    } catch (const Error& e) {
      fail("FSDP unit '{}': {}", name_, e.what());
    } catch (const c10::Error& e) {  // e.g. out of memory: LibTorch's message, without its C++ backtrace
      fail("FSDP unit '{}': quantizing its weights failed: {}", name_, e.what_without_backtrace());
    }
  }
}

int64_t FsdpUnit::resident_bytes() const {
  return dense_.shard.numel() * dense_.shard.element_size() + nf4_.shard.numel();
}

int64_t FsdpUnit::gathered_bytes() const { return ranks() * resident_bytes(); }

FsdpUnit::~FsdpUnit() {
  try {
    release();
  } catch (const std::exception&) {
    // A failed prefetch seen while unwinding: its error already ended the step.
  }
}

void FsdpUnit::hold(int64_t bytes) {
  held_bytes_ += bytes;
  if (memory_) memory_->add(bytes);
}

void FsdpUnit::start_gather() {
  torch::NoGradGuard no_grad;
  for (Part* part : {&dense_, &nf4_}) {
    if (part->numel == 0) continue;
    if (sharded_) {
      part->pending = comm_.all_gather_async(part->shard, part->received);
      hold(part->received.nbytes());
    } else {
      part->received = part->shard;
    }
  }
}

void FsdpUnit::finish_gather() {
  torch::NoGradGuard no_grad;
  if (dense_.numel > 0) {
    {
      const ProfileScope profile("fsdp.gather");
      dense_.pending.wait();
    }
    if (sharded_) stats_.bytes_received += dense_.received.nbytes() - dense_.shard.nbytes();
    dense_.full = dense_.received;
  }
  if (nf4_.numel > 0) {
    {
      const ProfileScope profile("fsdp.gather");
      nf4_.pending.wait();
    }
    if (sharded_) stats_.bytes_received += nf4_.received.nbytes() - nf4_.shard.nbytes();
    const auto per_rank = nf4_.received.view({ranks(), -1});  // packed codes and scales of each rank
    nf4_.full = torch::empty({ranks() * nf4_.shard_numel}, dense_.shard.options());
    hold(nf4_.full.nbytes());
    {
      const ProfileScope profile("fsdp.dequantize");
      for (int64_t r = 0; r < ranks(); ++r) {
        auto out = nf4_.full.narrow(0, r * nf4_.shard_numel, nf4_.shard_numel);
        dequantize_nf4_into(nf4_unpack(per_rank[r], nf4_.shard_numel), out);
      }
    }
    if (sharded_) hold(-nf4_.received.nbytes());
    nf4_.received = torch::Tensor();
  }
}

void FsdpUnit::prefetch() {
  if (gathered() || prefetching()) return;
  try {
    start_gather();
  } catch (const c10::Error& e) {
    release();
    fail("FSDP unit '{}': gathering its weights failed: {}", name_, e.what_without_backtrace());
  }
}

const std::vector<torch::Tensor>& FsdpUnit::gather() {
  if (gathered()) fail("FSDP unit '{}' is already gathered (missing release())", name_);
  try {
    if (!prefetching()) start_gather();
    finish_gather();
  } catch (const c10::Error& e) {
    release();
    fail("FSDP unit '{}': gathering its weights failed: {}", name_, e.what_without_backtrace());
  }
  if (sharded_) ++stats_.gathers;
  views_.assign(specs_.size(), torch::Tensor());
  for (const Part* part : {&dense_, &nf4_}) {
    for (size_t k = 0; k < part->members.size(); ++k) {
      const auto& spec = specs_[part->members[k]];
      views_[part->members[k]] = part->full.narrow(0, part->offsets[k], element_count(spec)).view(spec.shape);
    }
  }
  return views_;
}

void FsdpUnit::release() {
  views_.clear();
  for (Part* part : {&dense_, &nf4_}) {
    // A prefetch nobody consumed still has to complete: the other ranks take part in it.
    PendingCollective pending = std::move(part->pending);
    part->received = torch::Tensor();
    part->full = torch::Tensor();
    pending.wait();
  }
  hold(-held_bytes_);
}

namespace {

// What backward needs besides the saved tensors; held in the autograd context as a capsule.
struct UnitCall : torch::CustomClassHolder {
  FsdpUnit* unit = nullptr;
  FsdpPrefetch prefetch;
  UnitComputation fn;
  c10::optional<at::Generator> generator;  // whose state replays dropout in the recompute
  torch::Tensor rng_state;
};

c10::optional<at::Generator> generator_for(const torch::Device& device) {
  if (device.is_cpu()) return at::detail::getDefaultCPUGenerator();
  if (device.is_cuda())
    return at::globalContext().defaultGenerator(torch::Device(torch::kCUDA, device.has_index() ? device.index() : 0));
  return c10::nullopt;
}

// Gathers the unit for the lifetime of the guard, releasing it on every path (exceptions too), and
// starts the gather of the unit that runs next, which then moves while this one computes.
struct GatherGuard {
  GatherGuard(FsdpUnit& u, FsdpUnit* next) : unit(u), weights(u.gather()) {
    if (next != nullptr && next != &u) next->prefetch();
  }
  ~GatherGuard() { unit.release(); }
  FsdpUnit& unit;
  const std::vector<torch::Tensor>& weights;
};

class FsdpCheckpointFunction : public torch::autograd::Function<FsdpCheckpointFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor input,
                               c10::intrusive_ptr<UnitCall> call, at::TensorList trainable_list) {
    const std::vector<torch::Tensor> trainable = trainable_list.vec();
    if (call->generator) {
      std::lock_guard<std::mutex> lock(call->generator->mutex());
      call->rng_state = call->generator->get_state();
    }
    torch::Tensor output;
    {
      GatherGuard gathered(*call->unit, call->prefetch.forward);
      output = call->fn(gathered.weights, input, trainable);
    }
    std::vector<torch::Tensor> saved = {input};
    saved.insert(saved.end(), trainable.begin(), trainable.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["call"] = c10::IValue::make_capsule(call);
    return output;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_output) {
    auto call = c10::static_intrusive_pointer_cast<UnitCall>(ctx->saved_data["call"].toCapsule());
    const auto saved = ctx->get_saved_variables();
    const auto input = saved[0].detach().requires_grad_(saved[0].requires_grad());
    const std::vector<torch::Tensor> trainable(saved.begin() + 1, saved.end());

    torch::Tensor current_state;
    if (call->generator) {
      std::lock_guard<std::mutex> lock(call->generator->mutex());
      current_state = call->generator->get_state();
      call->generator->set_state(call->rng_state);
    }
    std::vector<torch::Tensor> inputs, grads;
    {
      torch::AutoGradMode enable(true);
      GatherGuard gathered(*call->unit, call->prefetch.backward);
      torch::Tensor output;
      {
        const ProfileScope profile("fsdp.recompute");
        output = call->fn(gathered.weights, input, trainable);
      }
      if (input.requires_grad()) inputs.push_back(input);
      for (const auto& t : trainable) inputs.push_back(t);
      if (!inputs.empty())
        grads = torch::autograd::grad({output}, inputs, {grad_output[0]}, /*retain_graph=*/false,
                                      /*create_graph=*/false, /*allow_unused=*/true);
    }
    if (call->generator) {
      std::lock_guard<std::mutex> lock(call->generator->mutex());
      call->generator->set_state(current_state);
    }
    // One entry per forward argument: input, the call (none), each trainable tensor.
    torch::autograd::variable_list out;
    size_t next = 0;
    out.push_back(input.requires_grad() ? grads[next++] : torch::Tensor());
    out.push_back(torch::Tensor());
    for (size_t i = 0; i < trainable.size(); ++i) out.push_back(grads[next++]);
    return out;
  }
};

}  // namespace

torch::Tensor fsdp_checkpointed_call(FsdpUnit& unit, UnitComputation fn, const torch::Tensor& input,
                                     const std::vector<torch::Tensor>& trainable, FsdpPrefetch prefetch) {
  bool needs_grad = torch::GradMode::is_enabled() && input.requires_grad();
  for (const auto& t : trainable) needs_grad = needs_grad || (torch::GradMode::is_enabled() && t.requires_grad());
  if (!needs_grad) {
    GatherGuard gathered(unit, prefetch.forward);
    return fn(gathered.weights, input, trainable);
  }
  auto call = c10::make_intrusive<UnitCall>();
  call->unit = &unit;
  call->prefetch = prefetch;
  call->fn = std::move(fn);
  call->generator = generator_for(input.device());
  // A TensorList (not a vector) so that autograd sees each trainable tensor as an input.
  return FsdpCheckpointFunction::apply(input, call, at::TensorList(trainable));
}

}  // namespace llamarec
