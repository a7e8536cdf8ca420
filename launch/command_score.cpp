// `llamarec score`: the ranker's letter logits and label-only loss on a few evaluation prompts, as
// JSON, for comparison with another implementation (pipelines/score_prompts.h).
#include "launch/commands.h"
#include "pipelines/run_setup.h"
#include "pipelines/score_prompts.h"
#include "pipelines/stages.h"

namespace llamarec {

void register_score_command(CLI::App& app, CommandRegistry& registry) {
  auto* command = app.add_subcommand(
      "score", "the ranker's letter logits and label-only loss on a few prompts, as JSON (parity checks)");
  auto config = std::make_shared<ConfigOptions>();
  add_config_options(*command, *config);
  auto o = std::make_shared<ScorePromptsOptions>();
  command->add_option("--split", o->split, "the split whose valid retrieval subset gives the prompts")
      ->capture_default_str()
      ->check(CLI::IsMember({"test", "val"}));
  command->add_option("--users", o->users, "the first this many users of the subset (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--adapter", o->adapter,
                      "PEFT adapter directory, or 'none' for the base alone (default: the run's ranker.adapter)");
  command->add_option("-o,--output", o->output, "JSON file to write")->required();
  registry.add(command, [config, o](const MpiContext& mpi) {
    const Config c = config->load();
    setup_run(c, mpi, {false, false, "score"});
    auto comm = make_stage_communicator(StageComm::kRanker, c);
    run_score_prompts(c, *comm, *o);
    return 0;
  });
}

}  // namespace llamarec
