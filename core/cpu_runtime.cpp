#include "core/cpu_runtime.h"

#include <dlfcn.h>
#include <malloc.h>
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
}

}  // namespace llamarec
