// `llamarec train-retriever`, `llamarec retrieve`.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "distributed/communicator.h"
#include "launch/commands.h"
#include "pipelines/retrieve.h"
#include "pipelines/run_setup.h"
#include "pipelines/train_retriever.h"

namespace llamarec {

void register_retriever_commands(CLI::App& app, CommandRegistry& registry) {
  {
    auto* command = app.add_subcommand("train-retriever",
                                       "train LRURec with data parallelism (gradients all-reduced across ranks)");
    auto options = std::make_shared<ConfigOptions>();
    add_config_options(*command, *options);
    registry.add(command, [options](const MpiContext& mpi) {
      const Config config = options->load();
      setup_run(config, mpi, {true, true, "train-retriever"});
      // LRURec trains on CPU tensors (its fused scan is a CPU kernel), so its collectives use MPI.
      auto comm = make_communicator("mpi");
      train_retriever(config, *comm);
      return 0;
    });
  }
  {
    auto* command = app.add_subcommand("retrieve", "score all items for every user and keep the top-k candidates");
    auto options = std::make_shared<ConfigOptions>();
    add_config_options(*command, *options);
    registry.add(command, [options](const MpiContext& mpi) {
      const Config config = options->load();
      setup_run(config, mpi, {true, true, "retrieve"});
      auto comm = make_communicator("mpi");
      run_retrieve(config, *comm);
      return 0;
    });
  }
}

}  // namespace llamarec
