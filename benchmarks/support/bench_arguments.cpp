#include "benchmarks/support/bench_arguments.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "core/cpu_runtime.h"
#include "core/error.h"
#include "core/logging.h"
#include "distributed/mpi_communicator.h"
#include "distributed/mpi_context.h"

namespace llamarec {

int run_mpi_benchmark(int argc, char** argv, const char* name, int (*run)(int, char**, Communicator&)) {
  MpiContext mpi(&argc, &argv);
  MpiCommunicator comm;
  try {
    return run(argc, argv, comm);
  } catch (const HelpRequested& help) {
    if (comm.rank() == 0) fmt::print("{}\n", help.what());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: {}\n", name, e.what());
    return 1;
  }
}

BenchArguments parse_bench_arguments(int argc, char** argv, const std::string& usage, const std::string& default_out,
                                     std::vector<std::string> default_overrides) {
  BenchArguments out;
  out.overrides = std::move(default_overrides);
  std::vector<std::string> positional;
  // section.key=value, as `llamarec --set` takes it; a path with '=' in it stays a path.
  static const std::regex override_pattern(R"([A-Za-z_][A-Za-z0-9_.]*=.*)");
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--profile" || arg == "--profile=ops") {
      out.profile = true;
    } else if (arg == "--profile=scopes") {
      out.profile = true;
      out.profile_mode = StepProfile::Mode::kScopes;
    } else if (arg == "-h" || arg == "--help") {
      throw HelpRequested(usage);
    } else if (arg.rfind("-", 0) == 0) {
      fail("{}: unknown option (usage: {})", arg, usage);
    } else if (!positional.empty() && std::regex_match(arg, override_pattern)) {
      out.overrides.push_back(arg);
    } else if (positional.size() < 2) {
      positional.push_back(arg);
    } else {
      fail("{}: one argument too many, neither INPUT, out.json nor key=value (usage: {})", arg, usage);
    }
  }
  if (positional.empty()) fail("usage: {}", usage);
  out.input = positional[0];
  out.out_path = positional.size() > 1 ? positional[1] : default_out;
  return out;
}

Config start_config_benchmark(const std::string& config_file, const BenchArguments& args, const Communicator& comm) {
  Config config = load_config(config_file, args.overrides);
  set_cpu_threads(static_cast<int>(std::max<int64_t>(1, config.run.threads)));
  LogOptions log;
  log.rank = comm.rank();
  log.world_size = comm.size();
  init_logging(log);
  return config;
}

}  // namespace llamarec
