// A bias-free linear layer that can carry a LoRA adapter (Hu et al. 2021, as HF PEFT implements it):
// y = x·Wᵀ + scaling · B·A·dropout(x), with W frozen, A [r, in] kaiming-uniform(a=√5), B [out, r]
// zero-initialised and scaling = α / r. The computation is a free function over a struct of tensors
// so that a caller holding the weights elsewhere (an FSDP unit's gathered buffer) runs the same code.
#pragma once
#include <torch/torch.h>

namespace llamarec {

struct LinearWeights {
  torch::Tensor weight;  // [out, in]
  torch::Tensor lora_a;  // [r, in]; undefined: no adapter (or merged)
  torch::Tensor lora_b;  // [out, r]
  double lora_scaling = 0.0;
  double lora_dropout = 0.0;
};

// x [..., in] -> [..., out]. The adapter runs in its own dtype (fp32 masters beside a bf16 base,
// as PEFT does) and its output is cast back to the base output's dtype. Dropout only if `training`.
torch::Tensor linear_forward(const LinearWeights& weights, const torch::Tensor& x, bool training);

struct LoraWeights {
  torch::Tensor a;  // [r, in]
  torch::Tensor b;  // [out, r]
};

// PEFT's reset_lora_parameters for an [out, in] projection: A ~ kaiming_uniform(a=√5), which is
// U(±1/√in), and B = 0, so that the adapted layer starts equal to the base layer. Drawn in fp32 on
// the CPU from `generator` (so every device and rank agrees), then moved to `device`.
LoraWeights init_lora_weights(int64_t out_features, int64_t in_features, int64_t r, at::Generator generator,
                              torch::Device device = torch::kCPU);

class LoraLinearImpl : public torch::nn::Module {
 public:
  // The base weight is allocated uninitialised: load it or initialise it explicitly.
  LoraLinearImpl(int64_t in_features, int64_t out_features, torch::TensorOptions options = {});

  // Adds an adapter of rank `r` (parameters "lora_A.weight", "lora_B.weight", PEFT's names) in
  // `dtype` on the base weight's device, initialised by init_lora_weights from `generator` (default:
  // LibTorch's default CPU generator). Fails if one is already present.
  void enable_lora(int64_t r, double alpha, double dropout, torch::Dtype dtype = torch::kFloat32,
                   c10::optional<at::Generator> generator = c10::nullopt);
  bool has_lora() const { return !lora_A.is_empty(); }
  // W += scaling·B·A (in W's dtype); the adapter is then skipped until unmerge().
  void merge();
  void unmerge();
  bool merged() const { return merged_; }

  LinearWeights weights() const;
  torch::Tensor forward(const torch::Tensor& x);  // [..., in] -> [..., out]

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  int64_t lora_rank() const { return rank_; }
  double lora_alpha() const { return alpha_; }
  double lora_dropout() const { return dropout_; }

  torch::Tensor weight;               // [out, in]
  torch::nn::Linear lora_A{nullptr};  // weight [r, in]
  torch::nn::Linear lora_B{nullptr};  // weight [out, r]

 private:
  int64_t in_features_;
  int64_t out_features_;
  int64_t rank_ = 0;
  double alpha_ = 0.0;
  double dropout_ = 0.0;
  bool merged_ = false;
};
TORCH_MODULE(LoraLinear);

}  // namespace llamarec
