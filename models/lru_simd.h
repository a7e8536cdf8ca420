// The build targets baseline x86-64 (SSE2), which leaves the hot loops of the LRU kernels at 4-wide
// floats without FMA and without 32-bit integer multiplies. LLAMAREC_AVX2_CLONES asks GCC/Clang for
// a Haswell (AVX2 + FMA) copy of a function beside the default one, picked at load time from the
// CPU's features; elsewhere it expands to nothing. Put it on a non-template function that holds the
// whole loop (clones are not inlined into their callers).
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__ELF__)
#define LLAMAREC_AVX2_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define LLAMAREC_AVX2_CLONES
#endif

// Bodies shared by the clones must be inlined into each of them.
#if defined(__GNUC__) || defined(__clang__)
#define LLAMAREC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define LLAMAREC_ALWAYS_INLINE inline
#endif
