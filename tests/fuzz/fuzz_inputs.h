// One entry point per parser that reads files a user hands us, shared by the libFuzzer targets
// (tests/fuzz/fuzz_target.cpp, built by launch/sanitize.sh) and the normal suite, which replays every
// kept input (tests/fuzz/corpus/<target>/, tests/fuzz/regressions/<target>/). Each writes `data`
// where the parser expects a file and runs it; a llamarec::Error is the parser rejecting bad input
// with its message, and is accepted. Anything else (another exception, a crash, a sanitizer
// report) is a finding: fix it and keep the input under regressions/.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace llamarec {

struct FuzzTarget {
  const char* name;
  std::function<void(const uint8_t* data, size_t size)> run;
};

// safetensors, config, hf_config, python_literal, movielens, amazon, recbole.
const std::vector<FuzzTarget>& fuzz_targets();
const FuzzTarget& fuzz_target(const std::string& name);

}  // namespace llamarec
