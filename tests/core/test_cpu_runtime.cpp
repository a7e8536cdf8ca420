#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/cpu_runtime.h"

namespace llamarec {
namespace {

using GetCapacity = int (*)(int*);
using SetCapacity = int (*)(int);

// oneDNN's own accessors, where it is a shared library that exports them (Debian's LibTorch).
struct OneDnnCache {
  GetCapacity get = reinterpret_cast<GetCapacity>(dlsym(RTLD_DEFAULT, "dnnl_get_primitive_cache_capacity"));
  SetCapacity set = reinterpret_cast<SetCapacity>(dlsym(RTLD_DEFAULT, "dnnl_set_primitive_cache_capacity"));
  int capacity() const {
    int c = -1;
    get(&c);
    return c;
  }
};

TEST(CpuRuntime, KeepFreedMemoryBoundsTheOneDnnPrimitiveCache) {
  const OneDnnCache cache;
  if (!cache.get || !cache.set) GTEST_SKIP() << "oneDNN does not export its cache capacity here";
  if (std::getenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY") || std::getenv("DNNL_PRIMITIVE_CACHE_CAPACITY"))
    GTEST_SKIP() << "the environment sets the capacity";
  cache.set(1024);  // oneDNN's default
  keep_freed_memory();
  EXPECT_EQ(cache.capacity(), kOneDnnPrimitiveCacheCapacity);

  // A capacity the user chose stays.
  cache.set(1024);
  setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "1024", 1);
  keep_freed_memory();
  unsetenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY");
  EXPECT_EQ(cache.capacity(), 1024);
}

}  // namespace
}  // namespace llamarec
