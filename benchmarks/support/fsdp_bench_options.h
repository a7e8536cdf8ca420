// The command line of the FSDP benchmarks: [out.json] [quantization=none|nf4] [dtype=float32|bfloat16].
#pragma once
#include <torch/torch.h>

#include <optional>
#include <string>

#include "models/nf4.h"

namespace llamarec {

struct FsdpBenchOptions {
  std::string out_path;
  WeightQuantization quantization = WeightQuantization::kNone;
  torch::Dtype dtype = torch::kFloat32;
  // "nf4", or the compute dtype the projections are held in ("float32", "bfloat16").
  std::string storage() const;
  std::string compute() const;
};

// nullopt (after printing the unknown argument on rank 0) when an argument is not understood.
std::optional<FsdpBenchOptions> parse_fsdp_bench_options(int argc, char** argv, const std::string& default_out,
                                                         int rank);

}  // namespace llamarec
