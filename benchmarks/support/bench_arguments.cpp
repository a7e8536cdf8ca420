#include "benchmarks/support/bench_arguments.h"

#include <fmt/format.h>

#include "core/error.h"
#include "distributed/mpi_communicator.h"
#include "distributed/mpi_context.h"

namespace llamarec {

int run_mpi_benchmark(int argc, char** argv, const char* name, int (*run)(int, char**, Communicator&)) {
  MpiContext mpi(&argc, &argv);
  MpiCommunicator comm;
  try {
    return run(argc, argv, comm);
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: {}\n", name, e.what());
    return 1;
  }
}

BenchArguments parse_bench_arguments(int argc, char** argv, const std::string& usage, const std::string& default_out,
                                     std::vector<std::string> default_overrides) {
  if (argc < 2) fail("usage: {}", usage);
  BenchArguments out;
  out.input = argv[1];
  out.out_path = argc > 2 ? argv[2] : default_out;
  out.overrides = std::move(default_overrides);
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--profile" || arg == "--profile=ops") {
      out.profile = true;
    } else if (arg == "--profile=scopes") {
      out.profile = true;
      out.profile_mode = StepProfile::Mode::kScopes;
    } else if (arg.rfind("--", 0) == 0) {
      fail("{}: unknown option (usage: {})", arg, usage);
    } else {
      out.overrides.emplace_back(argv[i]);
    }
  }
  return out;
}

}  // namespace llamarec
