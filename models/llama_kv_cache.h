// Key/value cache for incremental decoding: per layer, the post-RoPE keys and values of every token
// seen so far, [B, Hkv, S, Dh] (before GQA expansion). Storage grows geometrically, so a step
// copies only its new tokens. For inference (no autograd through the cache).
#pragma once
#include <torch/torch.h>

#include <vector>

namespace llamarec {

class KVCache {
 public:
  explicit KVCache(int64_t num_layers);

  // Tokens cached so far (layer 0's count; read it before a forward step).
  int64_t length() const;
  // Appends this step's k, v [B, Hkv, L, Dh] to `layer` and returns all cached keys and values,
  // [B, Hkv, S, Dh] views valid until the next update of that layer.
  std::pair<torch::Tensor, torch::Tensor> update(int64_t layer, const torch::Tensor& k, const torch::Tensor& v);
  void clear();
  // Every batch row repeated `times` times in place (row b becomes rows b*times .. b*times+times-1):
  // one prompt prefix, computed once, shared by several continuations.
  void repeat_batch(int64_t times);

 private:
  struct Slot {
    torch::Tensor k, v;  // [B, Hkv, capacity, Dh]
    int64_t length = 0;
  };
  std::vector<Slot> slots_;
};

}  // namespace llamarec
