#include "models/llama_kv_cache.h"

#include "core/error.h"

namespace llamarec {

KVCache::KVCache(int64_t num_layers) : slots_(num_layers) {}

int64_t KVCache::length() const { return slots_.empty() ? 0 : slots_[0].length; }

std::pair<torch::Tensor, torch::Tensor> KVCache::update(int64_t layer, const torch::Tensor& k, const torch::Tensor& v) {
  if (layer < 0 || layer >= static_cast<int64_t>(slots_.size()))
    fail("KV cache: layer {} out of range (cache has {} layers)", layer, slots_.size());
  auto& slot = slots_[layer];
  const int64_t step = k.size(2), needed = slot.length + step;
  if (slot.k.defined() && (slot.k.size(0) != k.size(0) || slot.k.size(1) != k.size(1) || slot.k.size(3) != k.size(3)))
    fail("KV cache: layer {} holds [{}] but got keys [{}]", layer, fmt::join(slot.k.sizes(), "x"),
         fmt::join(k.sizes(), "x"));
  if (!slot.k.defined() || needed > slot.k.size(2)) {
    const int64_t capacity = std::max<int64_t>(needed, slot.k.defined() ? 2 * slot.k.size(2) : needed);
    auto grown_k = torch::empty({k.size(0), k.size(1), capacity, k.size(3)}, k.options());
    auto grown_v = torch::empty({v.size(0), v.size(1), capacity, v.size(3)}, v.options());
    if (slot.length > 0) {
      grown_k.slice(2, 0, slot.length).copy_(slot.k.slice(2, 0, slot.length));
      grown_v.slice(2, 0, slot.length).copy_(slot.v.slice(2, 0, slot.length));
    }
    slot.k = grown_k;
    slot.v = grown_v;
  }
  slot.k.slice(2, slot.length, needed).copy_(k);
  slot.v.slice(2, slot.length, needed).copy_(v);
  slot.length = needed;
  return {slot.k.slice(2, 0, needed), slot.v.slice(2, 0, needed)};
}

void KVCache::repeat_batch(int64_t times) {
  if (times < 1) fail("KV cache: cannot repeat the batch {} times", times);
  for (auto& slot : slots_) {
    if (!slot.k.defined()) continue;
    slot.k = slot.k.slice(2, 0, slot.length).repeat_interleave(times, 0);
    slot.v = slot.v.slice(2, 0, slot.length).repeat_interleave(times, 0);
  }
}

void KVCache::clear() {
  for (auto& slot : slots_) slot = Slot{};
}

}  // namespace llamarec
