#include "benchmarks/support/fsdp_bench_options.h"

#include <fmt/format.h>

namespace llamarec {

std::string FsdpBenchOptions::compute() const { return dtype == torch::kBFloat16 ? "bfloat16" : "float32"; }

std::string FsdpBenchOptions::storage() const { return quantization == WeightQuantization::kNf4 ? "nf4" : compute(); }

std::optional<FsdpBenchOptions> parse_fsdp_bench_options(int argc, char** argv, const std::string& default_out,
                                                         int rank) {
  FsdpBenchOptions options;
  options.out_path = default_out;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "quantization=nf4" || arg == "quantization=none") {
      options.quantization = arg == "quantization=nf4" ? WeightQuantization::kNf4 : WeightQuantization::kNone;
    } else if (arg == "dtype=float32" || arg == "dtype=bfloat16") {
      options.dtype = arg == "dtype=bfloat16" ? torch::kBFloat16 : torch::kFloat32;
    } else if (arg.find('=') == std::string::npos) {
      options.out_path = arg;
    } else {
      if (rank == 0)
        fmt::print("unknown argument {} (expected [out.json] [quantization=none|nf4] [dtype=float32|bfloat16])\n", arg);
      return std::nullopt;
    }
  }
  return options;
}

}  // namespace llamarec
