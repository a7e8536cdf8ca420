// The build targets baseline x86-64 (SSE2), which leaves the hot loops of the LRU kernels at 4-wide
// floats without 32-bit integer multiplies. LLAMAREC_SIMD_CLONES asks GCC for AVX-512 and AVX2 copies
// of a function (clang: an AVX2 copy) beside the default one, picked at load time from the CPU's features;
// elsewhere it expands to nothing. Put it on a non-template function that holds the whole loop
// (clones are not inlined into their callers).
//
// The clones name ISA levels, not a CPU: "arch=haswell" dispatches on __builtin_cpu_is("haswell"),
// true on Haswell only, so every other CPU (an Ice Lake or Sapphire Rapids Xeon, a Zen) ran the
// SSE2 copy (measured: the dropout mask loop 0.77 ns per element against 0.37 with AVX2 and 0.29
// with AVX-512). Clang before 17 cannot dispatch on "arch=x86-64-v3", so clang gets "avx2".
//
// The files that use clones compile with -ffp-contract=off (models/CMakeLists.txt,
// pipelines/CMakeLists.txt): their loops are elementwise, so every clone rounds exactly as the SSE2
// one, and these kernels give the same bits on any x86-64 CPU (LibTorch's own kernels, OpenBLAS and
// oneDNN pick theirs per CPU too, so a whole run may still differ between machines). A new file that
// uses the clones must be added to those lists.
#pragma once

#if defined(__x86_64__) && defined(__ELF__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define LLAMAREC_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#elif defined(__x86_64__) && defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
#define LLAMAREC_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LLAMAREC_SIMD_CLONES
#endif

// Bodies shared by the clones must be inlined into each of them.
#if defined(__GNUC__) || defined(__clang__)
#define LLAMAREC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define LLAMAREC_ALWAYS_INLINE inline
#endif
