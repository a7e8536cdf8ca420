#include "distributed/fsdp_unit.h"

#include <ATen/Context.h>
#include <ATen/core/ivalue.h>

#include "core/error.h"
#include "core/profile_scope.h"

namespace llamarec {

FsdpUnit::FsdpUnit(std::string name, std::vector<TensorSpec> specs, Communicator& comm, torch::Dtype dtype,
                   torch::Device device, bool shard)
    : name_(std::move(name)), specs_(std::move(specs)), comm_(comm), sharded_(shard) {
  if (specs_.empty()) fail("FSDP unit '{}' has no tensors", name_);
  for (const auto& spec : specs_) {
    offsets_.push_back(numel_);
    int64_t n = 1;
    for (const auto d : spec.shape) n *= d;
    numel_ += n;
  }
  const int64_t world = sharded_ ? comm_.size() : 1;
  shard_numel_ = (numel_ + world - 1) / world;
  shard_ = torch::zeros({shard_numel_}, torch::TensorOptions().dtype(dtype).device(device));
}

void FsdpUnit::load(const SliceReader& read) {
  torch::NoGradGuard no_grad;
  const int64_t begin = sharded_ ? comm_.rank() * shard_numel_ : 0;
  const int64_t end = std::min(begin + shard_numel_, numel_);
  shard_.zero_();
  for (size_t i = 0; i < specs_.size(); ++i) {
    const int64_t t_begin = offsets_[i];
    const int64_t t_end = i + 1 < specs_.size() ? offsets_[i + 1] : numel_;
    const int64_t lo = std::max(begin, t_begin), hi = std::min(end, t_end);
    if (lo >= hi) continue;
    const auto part = read(specs_[i], lo - t_begin, hi - t_begin);
    if (part.numel() != hi - lo)
      fail("FSDP unit '{}': reading {}[{}, {}) gave {} elements", name_, specs_[i].name, lo - t_begin, hi - t_begin,
           part.numel());
    shard_.narrow(0, lo - begin, hi - lo).copy_(part.reshape(-1));
  }
}

const std::vector<torch::Tensor>& FsdpUnit::gather() {
  if (full_.defined()) fail("FSDP unit '{}' is already gathered (missing release())", name_);
  torch::NoGradGuard no_grad;
  const ProfileScope profile("fsdp.gather");
  if (sharded_) {
    comm_.all_gather(shard_, full_);  // [world * shard_numel]
    ++stats_.gathers;
    stats_.bytes_received += (comm_.size() - 1) * shard_numel_ * static_cast<int64_t>(shard_.element_size());
  } else {
    full_ = shard_;
  }
  views_.clear();
  for (size_t i = 0; i < specs_.size(); ++i) {
    int64_t n = 1;
    for (const auto d : specs_[i].shape) n *= d;
    views_.push_back(full_.narrow(0, offsets_[i], n).view(specs_[i].shape));
  }
  return views_;
}

void FsdpUnit::release() {
  views_.clear();
  full_ = torch::Tensor();
}

namespace {

// What backward needs besides the saved tensors; held in the autograd context as a capsule.
struct UnitCall : torch::CustomClassHolder {
  FsdpUnit* unit = nullptr;
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

// Gathers the unit for the lifetime of the guard, releasing it on every path (exceptions too).
struct GatherGuard {
  explicit GatherGuard(FsdpUnit& u) : unit(u), weights(u.gather()) {}
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
      GatherGuard gathered(*call->unit);
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
      GatherGuard gathered(*call->unit);
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
                                     const std::vector<torch::Tensor>& trainable) {
  bool needs_grad = torch::GradMode::is_enabled() && input.requires_grad();
  for (const auto& t : trainable) needs_grad = needs_grad || (torch::GradMode::is_enabled() && t.requires_grad());
  if (!needs_grad) {
    GatherGuard gathered(unit);
    return fn(gathered.weights, input, trainable);
  }
  auto call = c10::make_intrusive<UnitCall>();
  call->unit = &unit;
  call->fn = std::move(fn);
  call->generator = generator_for(input.device());
  // A TensorList (not a vector) so that autograd sees each trainable tensor as an input.
  return FsdpCheckpointFunction::apply(input, call, at::TensorList(trainable));
}

}  // namespace llamarec
