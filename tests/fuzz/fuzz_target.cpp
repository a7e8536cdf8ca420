// The libFuzzer entry point of one target, chosen at compile time (LLAMAREC_FUZZ_TARGET).
#include <spdlog/spdlog.h>

#include "tests/fuzz/fuzz_inputs.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // warnings about odd input are expected, by the million
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto& target = llamarec::fuzz_target(LLAMAREC_FUZZ_TARGET);
  target.run(data, size);
  return 0;
}
