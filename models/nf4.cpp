#include "models/nf4.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "core/error.h"

namespace llamarec {

namespace {

// Groups per pass of quantization and dequantization: 64 x 16,384 values keep the temporaries near
// 1M values, so that neither pass needs memory in proportion to a 7B layer.
constexpr int64_t kChunkGroups = 64;

// Small constant tables, built once per device and kept for the process (never freed: a CUDA
// tensor must not be destroyed after the CUDA context at exit), so that a gather does not copy
// them host-to-device every time.
const torch::Tensor& cached_table(const char* name, const torch::Device& device,
                                  const std::function<torch::Tensor()>& build) {
  static std::mutex mutex;
  static auto* tables = new std::map<std::string, torch::Tensor>();
  const std::lock_guard<std::mutex> lock(mutex);
  auto& table = (*tables)[std::string(name) + "@" + device.str()];
  if (!table.defined()) table = build().to(device);
  return table;
}

// The 16 values in code order.
torch::Tensor codebook_cpu() {
  const auto& cb = nf4_codebook();
  return torch::tensor(std::vector<float>(cb.begin(), cb.end()), torch::kFloat32);
}

// Decision boundaries between neighbouring NF4 values: a normalised value goes to the nearest one
// (ties to the lower code).
const torch::Tensor& midpoints(const torch::Device& device) {
  return cached_table("midpoints", device, [] {
    const auto cb = codebook_cpu();
    return (cb.narrow(0, 0, 15) + cb.narrow(0, 1, 15)) / 2.0f;
  });
}

// [256, 2]: the two values a packed byte stands for, so one lookup per byte dequantizes both.
const torch::Tensor& byte_table(const torch::Device& device) {
  return cached_table("byte_table", device, [] {
    const auto cb = codebook_cpu();
    return torch::stack({cb.repeat_interleave(16), cb.repeat({16})}, 1);
  });
}

void check_numel(int64_t numel, const char* what) {
  if (numel <= 0 || numel % kNf4GroupSize != 0)
    fail("NF4 {}: {} values is not a positive multiple of {} (blocks of {} x groups of {})", what, numel, kNf4GroupSize,
         kNf4BlockSize, kNf4GroupBlocks);
}

}  // namespace

const std::array<float, 16>& nf4_codebook() {
  // QLoRA Appendix E: Φ⁻¹ at 8 evenly spaced probabilities in [0.5, 0.9677083] for the positive half
  // and 7 for the negative half, plus 0, normalised to [-1, 1]. tests/models/test_nf4.cpp derives
  // these from that definition.
  static const std::array<float, 16> values = {-1.0f,
                                               -0.6961928009986877f,
                                               -0.5250730514526367f,
                                               -0.39491748809814453f,
                                               -0.28444138169288635f,
                                               -0.18477343022823334f,
                                               -0.09105003625154495f,
                                               0.0f,
                                               0.07958029955625534f,
                                               0.16093020141124725f,
                                               0.24611230194568634f,
                                               0.33791524171829224f,
                                               0.44070982933044434f,
                                               0.5626170039176941f,
                                               0.7229568362236023f,
                                               1.0f};
  return values;
}

int64_t nf4_packed_bytes(int64_t numel) { return numel / 2 + numel / kNf4BlockSize + 2 * 4 * (numel / kNf4GroupSize); }

Nf4Tensor quantize_nf4(const torch::Tensor& values) {
  torch::NoGradGuard no_grad;
  check_numel(values.numel(), "quantization");
  if (!values.is_floating_point()) fail("NF4 quantization of a {} tensor", c10::toString(values.scalar_type()));
  const auto device = values.device();
  const auto flat = values.reshape({-1});
  const int64_t groups = flat.numel() / kNf4GroupSize;
  const auto options = torch::TensorOptions().device(device);
  Nf4Tensor q;
  q.codes = torch::empty({flat.numel() / 2}, options.dtype(torch::kUInt8));
  q.absmax_codes = torch::empty({groups * kNf4GroupBlocks}, options.dtype(torch::kInt8));
  q.group_scale = torch::empty({groups}, options.dtype(torch::kFloat32));
  q.group_offset = torch::empty({groups}, options.dtype(torch::kFloat32));
  for (int64_t g = 0; g < groups; g += kChunkGroups) {
    const int64_t n = std::min(kChunkGroups, groups - g);
    const auto blocks =
        flat.narrow(0, g * kNf4GroupSize, n * kNf4GroupSize).to(torch::kFloat32).view({-1, kNf4BlockSize});  // [B, 64]
    const auto absmax = blocks.abs().amax(1);                                                                // [B]
    if (!torch::isfinite(absmax).all().item<bool>()) fail("NF4 quantization: the values are not all finite");
    const auto divisor = torch::where(absmax > 0, absmax, torch::ones_like(absmax));
    const auto normalized = blocks / divisor.unsqueeze(1);  // [B, 64] in [-1, 1]
    const auto codes = torch::bucketize(normalized, midpoints(device), /*out_int32=*/true)
                           .to(torch::kUInt8)
                           .view({-1, 2});  // [B * 32, 2] in 0..15
    q.codes.narrow(0, g * kNf4GroupSize / 2, n * kNf4GroupSize / 2).copy_(codes.select(1, 0) * 16 + codes.select(1, 1));

    const auto grouped = absmax.view({-1, kNf4GroupBlocks});  // [n, 256]
    const auto offset = grouped.mean(1);                      // [n]
    const auto deviation = grouped - offset.unsqueeze(1);
    const auto spread = deviation.abs().amax(1) / 127.0f;
    const auto scale = torch::where(spread > 0, spread, torch::ones_like(spread));
    q.group_offset.narrow(0, g, n).copy_(offset);
    q.group_scale.narrow(0, g, n).copy_(scale);
    q.absmax_codes.narrow(0, g * kNf4GroupBlocks, n * kNf4GroupBlocks)
        .copy_((deviation / scale.unsqueeze(1)).round().clamp(-127, 127).to(torch::kInt8).reshape({-1}));
  }
  return q;
}

torch::Tensor nf4_block_absmax(const Nf4Tensor& q) {
  const auto codes = q.absmax_codes.to(torch::kFloat32).view({-1, kNf4GroupBlocks});  // [G, 256]
  // An absmax below half its group's step could come back negative and flip its block's signs.
  return (codes * q.group_scale.unsqueeze(1) + q.group_offset.unsqueeze(1)).clamp_min(0).reshape({-1});
}

void dequantize_nf4_into(const Nf4Tensor& q, torch::Tensor& out) {
  torch::NoGradGuard no_grad;
  const int64_t numel = q.numel();
  check_numel(numel, "dequantization");
  if (out.numel() != numel || !out.is_contiguous())
    fail("NF4 dequantization into a tensor of {} values (contiguous: {}), expected {}", out.numel(),
         out.is_contiguous(), numel);
  const auto& table = byte_table(q.codes.device());  // [256, 2]
  const auto absmax = nf4_block_absmax(q);           // [B]
  auto flat = out.view({-1, kNf4BlockSize});         // [B, 64]
  const int64_t groups = numel / kNf4GroupSize;
  for (int64_t g = 0; g < groups; g += kChunkGroups) {
    const int64_t n = std::min(kChunkGroups, groups - g);
    const auto bytes = q.codes.narrow(0, g * kNf4GroupSize / 2, n * kNf4GroupSize / 2).to(torch::kLong);
    const auto values = table.index_select(0, bytes).view({-1, kNf4BlockSize});  // [n * 256, 64]
    const auto scales = absmax.narrow(0, g * kNf4GroupBlocks, n * kNf4GroupBlocks).unsqueeze(1);
    flat.narrow(0, g * kNf4GroupBlocks, n * kNf4GroupBlocks).copy_(values * scales);
  }
}

torch::Tensor dequantize_nf4(const Nf4Tensor& q, torch::Dtype dtype) {
  auto out = torch::empty({q.numel()}, torch::TensorOptions().dtype(dtype).device(q.codes.device()));
  dequantize_nf4_into(q, out);
  return out;
}

torch::Tensor nf4_pack(const Nf4Tensor& q) {
  const int64_t numel = q.numel();
  check_numel(numel, "packing");
  const auto as_bytes = [](const torch::Tensor& t) { return t.contiguous().view(torch::kUInt8).reshape({-1}); };
  return torch::cat({q.codes, as_bytes(q.absmax_codes), as_bytes(q.group_scale), as_bytes(q.group_offset)});
}

Nf4Tensor nf4_unpack(const torch::Tensor& packed, int64_t numel) {
  check_numel(numel, "unpacking");
  const int64_t code_bytes = numel / 2, blocks = numel / kNf4BlockSize, groups = numel / kNf4GroupSize;
  if (packed.scalar_type() != torch::kUInt8 || packed.dim() != 1 || packed.numel() != nf4_packed_bytes(numel) ||
      !packed.is_contiguous())
    fail("NF4 unpacking: {} {} values, expected {} contiguous bytes", packed.numel(),
         c10::toString(packed.scalar_type()), nf4_packed_bytes(numel));
  // The scales are copied out: a float32 view of uint8 storage needs 4-byte alignment.
  const auto floats = [&](int64_t begin) { return packed.narrow(0, begin, 4 * groups).clone().view(torch::kFloat32); };
  Nf4Tensor q;
  q.codes = packed.narrow(0, 0, code_bytes);
  q.absmax_codes = packed.narrow(0, code_bytes, blocks).view(torch::kInt8);
  q.group_scale = floats(code_bytes + blocks);
  q.group_offset = floats(code_bytes + blocks + 4 * groups);
  return q;
}

}  // namespace llamarec
