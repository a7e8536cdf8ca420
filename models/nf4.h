// 4-bit NormalFloat (NF4) quantization with double quantization, as QLoRA defines it (Dettmers et
// al. 2023, §3 and Appendix E; the same codebook as bitsandbytes' NF4):
// - values in blocks of 64, each block scaled by its absmax into [-1, 1] and rounded to the nearest
//   of the 16 NF4 values (a 4-bit code; two codes per byte, the first element in the high nibble,
//   as bitsandbytes packs them);
// - the block absmaxes quantized again (double quantization) in groups of 256: minus the group's
//   mean (the offset), divided by the group's scale (max |absmax - offset| / 127), rounded to int8.
//   bitsandbytes subtracts one mean per tensor and uses its 8-bit dynamic map; one mean per group
//   and linear int8 make every group independent of the rest of the tensor, so each rank can
//   quantize its own slice alone and the codes do not depend on the number of ranks.
// Cost: 4 bits per value + 8 bits per 64 values + 64 bits per 16,384 values = 4.129 bits/value.
//
// Everything is LibTorch ops, so the same code runs on CPU and CUDA tensors.
#pragma once
#include <torch/torch.h>

#include <array>
#include <cstdint>

namespace llamarec {

// How a frozen base holds its linear weights: in the compute dtype, or as NF4 codes (QLoRA).
enum class WeightQuantization { kNone, kNf4 };

constexpr int64_t kNf4BlockSize = 64;                               // values per absmax
constexpr int64_t kNf4GroupBlocks = 256;                            // absmaxes per double-quant group
constexpr int64_t kNf4GroupSize = kNf4BlockSize * kNf4GroupBlocks;  // values per group: 16,384

// The 16 NF4 values in code order (code 7 is exactly 0, code 0 is -1 and code 15 is 1).
const std::array<float, 16>& nf4_codebook();

// One quantized flat tensor of `numel` values (a multiple of kNf4GroupSize).
struct Nf4Tensor {
  torch::Tensor codes;         // uint8 [numel / 2]: two 4-bit codes per byte, first in the high nibble
  torch::Tensor absmax_codes;  // int8  [numel / 64]: round((absmax - offset) / scale)
  torch::Tensor group_scale;   // float32 [numel / 16384]
  torch::Tensor group_offset;  // float32 [numel / 16384]
  int64_t numel() const { return codes.numel() * 2; }
};

// Bytes of the packed form of `numel` values (nf4_pack's length).
int64_t nf4_packed_bytes(int64_t numel);

// values: [numel] of any floating dtype, numel a multiple of kNf4GroupSize. Computed in fp32.
Nf4Tensor quantize_nf4(const torch::Tensor& values);

// The block absmaxes after double quantization: float32 [numel / 64].
torch::Tensor nf4_block_absmax(const Nf4Tensor& q);

// Writes the dequantized values into `out` ([numel], its dtype: e.g. bf16 on GPU, fp32 on CPU),
// in chunks of groups so that the temporaries stay small beside a 7B layer.
void dequantize_nf4_into(const Nf4Tensor& q, torch::Tensor& out);
torch::Tensor dequantize_nf4(const Nf4Tensor& q, torch::Dtype dtype = torch::kFloat32);

// One contiguous uint8 buffer [codes | absmax codes | scales | offsets] (what an FSDP shard holds
// and all-gathers), and back; the unpacked codes are views into `packed`.
torch::Tensor nf4_pack(const Nf4Tensor& q);
Nf4Tensor nf4_unpack(const torch::Tensor& packed, int64_t numel);

}  // namespace llamarec
