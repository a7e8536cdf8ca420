#include "core/cpu_runtime.h"

#include <dlfcn.h>
#include <malloc.h>

#include <cstdlib>
#include <string>
#include <torch/torch.h>

namespace llamarec {

void set_cpu_threads(int threads) {
  at::set_num_threads(threads);
  // Looked up at run time: a LibTorch built with MKL or another BLAS has no such symbol.
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(threads);
}

void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (std::getenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY") || std::getenv("DNNL_PRIMITIVE_CACHE_CAPACITY")) return;
  // The call where oneDNN is a shared library that exports it (Debian's LibTorch); otherwise the
  // variable, which oneDNN reads when it makes its first primitive.
  using SetCapacity = int (*)(int);
  if (auto fn = reinterpret_cast<SetCapacity>(dlsym(RTLD_DEFAULT, "dnnl_set_primitive_cache_capacity"))) {
    fn(kOneDnnPrimitiveCacheCapacity);
  } else {
    setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", std::to_string(kOneDnnPrimitiveCacheCapacity).c_str(), 0);
  }
}

}  // namespace llamarec
