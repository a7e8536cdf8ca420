// The `llamarec` command line: one binary, one subcommand per pipeline stage. Every subcommand takes
// --config FILE and --set section.key=value overrides; the stage functions live in pipelines/.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "pipelines/config.h"
#include "core/error.h"
#include "core/fault_injection.h"
#include "core/logging.h"
#include "core/stop_signal.h"
#include "distributed/mpi_context.h"
#include "launch/commands.h"

int main(int argc, char** argv) {
  using namespace llamarec;
  CLI::App app{
      "llamarec: two-stage LLM recommendation (LRURec retriever + LoRA-tuned Llama ranker)\n"
      "Run under mpirun / srun for data-parallel and sharded training."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "llamarec 0.1");
  CommandRegistry registry;
  register_commands(app, registry);
  // CLI11 answers a misspelt command with "A subcommand is required"; name it and the commands.
  if (argc > 1 && argv[1][0] != '-') {
    const auto known = app.get_subcommands([&](CLI::App* c) { return c->get_name() == argv[1]; });
    if (known.empty()) {
      std::string names;
      for (const auto* c : app.get_subcommands([](CLI::App*) { return true; })) names += " " + c->get_name();
      std::fprintf(stderr, "llamarec: unknown command '%s' (commands:%s)\n", argv[1], names.c_str());
      return 109;  // CLI11's exit code for an unknown argument
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  MpiContext mpi(&argc, &argv);
  init_logging({mpi.rank(), mpi.size(), "info", false});
  set_fault_rank(mpi.rank());
  try {
    return registry.run_selected(app, mpi);
  } catch (const StopRequested& e) {
    // Every rank stopped at the same point after a collective save: a clean exit, no abort.
    if (mpi.rank() == 0) std::fprintf(stderr, "llamarec: %s (exit %d: requeue)\n", e.what(), kRequeueExitCode);
    return kRequeueExitCode;
  } catch (const std::exception& e) {
    // Every rank reports its own failure; the world is aborted so that no peer waits forever in a
    // collective for a rank that has left.
    if (mpi.size() > 1) {
      std::fprintf(stderr, "llamarec: error (rank %d): %s\n", mpi.rank(), e.what());
      std::fflush(stderr);
      MpiContext::abort_world(1);
    }
    std::fprintf(stderr, "llamarec: error: %s\n", e.what());
    return 1;
  }
}
