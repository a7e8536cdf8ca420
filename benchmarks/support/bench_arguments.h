// The command line the training benchmarks share:
//   bench_X INPUT [out.json] [key=value ...] [--profile[=ops|scopes]]
// key=value pairs are config overrides (as `llamarec --set`), after the benchmark's own defaults;
// --profile runs under benchmarks/support/step_profile.h (ops: every op, backward attributed;
// scopes: the ProfileScope ranges only, at no cost).
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "benchmarks/support/step_profile.h"
#include "distributed/communicator.h"
#include "pipelines/config.h"

namespace llamarec {

struct BenchArguments {
  std::string input;                   // the first argument (a dataset or a config file)
  std::string out_path;                // the results JSON
  std::vector<std::string> overrides;  // the defaults, then the command line's
  bool profile = false;                // --profile
  StepProfile::Mode profile_mode = StepProfile::Mode::kOps;
};

// Thrown by parse_bench_arguments on -h/--help: what() is the usage line.
class HelpRequested : public std::runtime_error {
 public:
  explicit HelpRequested(const std::string& usage) : std::runtime_error("usage: " + usage) {}
};

// main() of an MPI benchmark: MPI up, `run` on the world, an error printed as "name: message" with
// exit status 1; help printed once (rank 0) on stdout, exit status 0.
int run_mpi_benchmark(int argc, char** argv, const char* name, int (*run)(int, char**, Communicator&));

// Fails with the usage line when INPUT is missing; throws HelpRequested on -h/--help. Options may come
// anywhere; after INPUT, an argument of the form section.key=value is an override, and the first other
// one is out.json.
BenchArguments parse_bench_arguments(int argc, char** argv, const std::string& usage, const std::string& default_out,
                                     std::vector<std::string> default_overrides);

// The start of a config-driven benchmark: `config_file` (empty: the defaults) with args.overrides,
// the config's LibTorch threads (run.threads, at least 1), and logging for this rank.
Config start_config_benchmark(const std::string& config_file, const BenchArguments& args, const Communicator& comm);

}  // namespace llamarec
