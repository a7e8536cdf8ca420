// Process-wide CPU settings that LibTorch leaves alone.
#pragma once

namespace llamarec {

// LibTorch's intra-op threads and OpenBLAS's own pool. Debian's LibTorch calls the pthread build of
// OpenBLAS, whose pool is sized by the core count (or OPENBLAS_NUM_THREADS / OMP_NUM_THREADS), not by
// at::set_num_threads: two ranks at "1 thread" would run four busy threads on two cores.
void set_cpu_threads(int threads);

// Keeps freed memory in the process. glibc hands blocks above its mmap threshold back to the OS on
// free, and each training step allocates and frees the same large activation buffers again, so
// every step page-faults them in anew (kernel page clearing showed at the top of LRURec profiles).
// It also bounds oneDNN's primitive cache to kOneDnnPrimitiveCacheCapacity entries (unless
// ONEDNN_/DNNL_PRIMITIVE_CACHE_CAPACITY is set): LibTorch runs GELU (and bf16 matmuls) through oneDNN,
// which keeps one primitive per op and tensor shape, up to 1,024 of them. Shapes change every step
// (LRURec's kept positions, prompt lengths), and those long-lived entries scattered through a heap
// that is never trimmed held LRURec training at 3.3 GB instead of under 500 MB.
void keep_freed_memory();

// Enough for one step's distinct shapes (a Llama layer's projections forward and backward); more
// only holds shapes that rarely come back.
inline constexpr int kOneDnnPrimitiveCacheCapacity = 64;

}  // namespace llamarec
