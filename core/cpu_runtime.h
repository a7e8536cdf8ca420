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
void keep_freed_memory();

}  // namespace llamarec
