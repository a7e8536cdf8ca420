#include "distributed/data_parallel.h"

#include "core/error.h"

namespace llamarec {

DataParallel::DataParallel(Communicator& comm, std::vector<torch::Tensor> parameters)
    : comm_(comm), parameters_(std::move(parameters)) {
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const auto& first = parameters_.front();
    if (parameters_[i].scalar_type() != first.scalar_type()) {
      fail("data parallel: all parameters must share one dtype for the flat bucket ({} vs {})",
           c10::toString(first.scalar_type()), c10::toString(parameters_[i].scalar_type()));
    }
    if (parameters_[i].device() != first.device()) {
      fail("data parallel: all parameters must be on one device for the flat bucket ({} vs {})", first.device().str(),
           parameters_[i].device().str());
    }
    for (size_t j = 0; j < i; ++j) {
      if (parameters_[j].is_same(parameters_[i]))
        fail("data parallel: parameter {} is listed twice (also at {})", i, j);
    }
    bucket_numel_ += parameters_[i].numel();
  }
  auto options = parameters_.empty() ? torch::TensorOptions().dtype(torch::kFloat32)
                                     : parameters_.front().options().requires_grad(false);
  // fp32 weights would lose exactness for large token counts only beyond 2^24; keep them in the
  // parameters' dtype so that one collective suffices.
  bucket_ = torch::zeros({bucket_numel_ + 3}, options);
  bind_gradients();
}

void DataParallel::bind_gradients() {
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (auto& p : parameters_) {
    auto slot = bucket_.narrow(0, offset, p.numel());
    const auto& grad = p.grad();
    if (!grad.defined() || grad.data_ptr() != slot.data_ptr() || !grad.is_contiguous()) {
      if (grad.defined()) {
        slot.copy_(grad.reshape(-1));
      } else {
        slot.zero_();
      }
      // Shares the bucket's storage but is no autograd view: optimizers' zero_grad may detach_() it.
      const auto view = slot.view_as(p);
      p.mutable_grad() = torch::empty({0}, bucket_.options())
                             .set_(bucket_.storage(), view.storage_offset(), view.sizes(), view.strides());
    }
    offset += p.numel();
  }
}

void DataParallel::on_comm_device(torch::Tensor& tensor, const std::function<void(torch::Tensor&)>& collective) {
  if (comm_.takes(tensor.device())) {
    collective(tensor);
    return;
  }
  auto staged = tensor.to(comm_.device());
  collective(staged);
  tensor.copy_(staged);
}

void DataParallel::broadcast_parameters() {
  if (comm_.size() == 1 || parameters_.empty()) return;
  torch::NoGradGuard no_grad;
  // A buffer of its own: the bucket holds the gradients. Once per run.
  auto flat = torch::empty({bucket_numel_}, bucket_.options());
  int64_t offset = 0;
  for (const auto& p : parameters_) {
    flat.narrow(0, offset, p.numel()).copy_(p.detach().reshape(-1));
    offset += p.numel();
  }
  on_comm_device(flat, [&](torch::Tensor& t) { comm_.broadcast(t, 0); });
  offset = 0;
  for (auto& p : parameters_) {
    p.detach().copy_(flat.narrow(0, offset, p.numel()).view_as(p));
    offset += p.numel();
  }
}

DataParallel::Totals DataParallel::all_reduce_gradients(double local_weight, double local_value, double local_flag) {
  torch::NoGradGuard no_grad;
  bind_gradients();
  auto gradients = bucket_.narrow(0, 0, bucket_numel_);
  if (comm_.size() == 1) {
    if (local_weight != 1.0 && local_weight > 0) gradients.div_(local_weight);
    return {local_weight, local_value, local_flag};
  }
  bucket_[bucket_numel_] = local_weight;
  bucket_[bucket_numel_ + 1] = local_value;
  bucket_[bucket_numel_ + 2] = local_flag;
  on_comm_device(bucket_, [&](torch::Tensor& t) { comm_.all_reduce(t, ReduceOp::kSum); });
  const auto tail = bucket_.narrow(0, bucket_numel_, 3).to(torch::kCPU, torch::kDouble);
  const auto* t = tail.data_ptr<double>();
  const Totals totals{t[0], t[1], t[2]};
  if (totals.weight > 0) gradients.div_(totals.weight);
  return totals;
}

double DataParallel::clip_grad_norm(double max_norm) {
  torch::NoGradGuard no_grad;
  if (parameters_.empty()) return 0.0;
  bind_gradients();
  std::vector<torch::Tensor> norms;
  norms.reserve(parameters_.size());
  for (const auto& p : parameters_) norms.push_back(p.grad().norm(2));
  const auto total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2);
  const auto factor = torch::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
  if (factor.item<double>() < 1.0) bucket_.narrow(0, 0, bucket_numel_).mul_(factor);
  return total.item<double>();
}

}  // namespace llamarec
