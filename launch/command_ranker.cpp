// `llamarec train-ranker`, `llamarec evaluate`, `llamarec run`.
#include "distributed/communicator.h"
#include "launch/commands.h"
#include "pipelines/evaluate_ranker.h"
#include "pipelines/retrieve.h"
#include "pipelines/run_pipeline.h"
#include "pipelines/run_setup.h"
#include "pipelines/train_ranker.h"

namespace llamarec {

void register_ranker_commands(CLI::App& app, CommandRegistry& registry) {
  {
    auto* command = app.add_subcommand(
        "train-ranker", "LoRA-tune the Llama ranker, base weights sharded FSDP-style across ranks (MPI or NCCL)");
    auto options = std::make_shared<ConfigOptions>();
    add_config_options(*command, *options);
    registry.add(command, [options](const MpiContext& mpi) {
      const Config config = options->load();
      setup_run(config, mpi, {true, true, "train-ranker"});
      auto comm = make_ranker_communicator(config);
      train_ranker(config, *comm);
      return 0;
    });
  }
  {
    auto* command = app.add_subcommand("evaluate", "exact distributed evaluation; writes metrics.json");
    auto options = std::make_shared<ConfigOptions>();
    add_config_options(*command, *options);
    auto stage = std::make_shared<std::string>("retriever");
    auto split = std::make_shared<std::string>("test");
    command->add_option("--stage", *stage, "which model to evaluate")
        ->capture_default_str()
        ->check(CLI::IsMember({"retriever", "ranker"}));
    command->add_option("--split", *split, "ranker: the split whose valid retrieval subset is ranked")
        ->capture_default_str()
        ->check(CLI::IsMember({"test", "val"}));
    registry.add(command, [options, stage, split](const MpiContext& mpi) {
      const Config config = options->load();
      setup_run(config, mpi, {true, true, "evaluate-" + *stage});
      if (*stage == "retriever") {
        auto comm = make_communicator("mpi");
        run_evaluate_retriever(config, *comm);
      } else {
        auto comm = make_ranker_communicator(config);
        run_evaluate_ranker(config, *comm, *split);
      }
      return 0;
    });
  }
  {
    auto* command = app.add_subcommand(
        "run", "the whole pipeline (preprocess, train-retriever, retrieve, evaluate, train-ranker, evaluate) in "
               "one run directory; finished stages are skipped");
    auto options = std::make_shared<ConfigOptions>();
    command->add_option("config", options->config_path, "TOML config file")->required()->check(CLI::ExistingFile);
    command->add_option("--set", options->overrides, "override a config key: --set section.key=value (repeatable)")
        ->allow_extra_args(false);
    auto stages = std::make_shared<std::vector<std::string>>();
    command->add_option("--stages", *stages, "run only these stages (default: all)")
        ->check(CLI::IsMember(pipeline_stages()))
        ->delimiter(',');
    registry.add(command, [options, stages](const MpiContext& mpi) {
      const Config config = options->load();
      setup_run(config, mpi, {true, true, "run"});
      run_pipeline(config, mpi, *stages);
      return 0;
    });
  }
}

}  // namespace llamarec
