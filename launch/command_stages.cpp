// One subcommand per row of the stage table (pipelines/stages.h), `llamarec run` for all of them,
// and `llamarec evaluate --stage`, the old spelling of evaluate-retriever / evaluate-ranker.
#include <filesystem>
#include <spdlog/spdlog.h>

#include "launch/commands.h"
#include "pipelines/run_pipeline.h"
#include "pipelines/run_setup.h"
#include "pipelines/stages.h"

namespace llamarec {
namespace {

void run_one_stage(const Stage& stage, const Config& config, const MpiContext& mpi, const StageArgs& args) {
  const int threads = setup_run(config, mpi, {true, true, stage.name});
  {
    auto comm = make_stage_communicator(stage.comm, config);
    stage.run(config, *comm, args);
  }
  record_run_manifest(config, mpi, threads, stage.name);
}

// Flags that only some stages have; the data ones are shorthands for [data] keys.
struct StageFlags {
  std::string format, input, meta, output;
  StageArgs args;

  // Paths given as flags are relative to the current directory, as any command-line tool's are (in
  // a config file, and in --set, relative outputs stay inside run.dir).
  std::vector<std::string> overrides() const {
    const auto from_cwd = [](const std::string& p) { return std::filesystem::absolute(p).lexically_normal().string(); };
    std::vector<std::string> out;
    if (!format.empty()) out.push_back("data.format=" + format);
    if (!input.empty()) out.push_back("data.input=" + from_cwd(input));
    if (!meta.empty()) out.push_back("data.meta=" + from_cwd(meta));
    if (!output.empty()) out.push_back("data.dataset=" + from_cwd(output));
    return out;
  }
};

void add_stage_flags(CLI::App& command, const Stage& stage, StageFlags& flags) {
  if (stage.name == "preprocess") {
    command.add_option("--format", flags.format, "data.format: movielens, amazon, recbole or synthetic");
    command.add_option("--input", flags.input, "data.input: raw file or folder");
    command.add_option("--meta", flags.meta, "data.meta: Amazon metadata or RecBole .item file");
    command.add_option("-o,--output", flags.output, "data.dataset: output .h5 (relative to the current directory)");
    command.add_flag("--force", flags.args.force, "rebuild even if the output is up to date");
  } else if (stage.name == "evaluate-ranker") {
    command.add_option("--split", flags.args.split, "the split whose valid retrieval subset is ranked")
        ->capture_default_str()
        ->check(CLI::IsMember({"test", "val"}));
  }
}

}  // namespace

void register_stage_commands(CLI::App& app, CommandRegistry& registry) {
  for (const auto& stage : pipeline_stages()) {
    auto* command = app.add_subcommand(stage.name, stage.description);
    auto options = std::make_shared<ConfigOptions>();
    add_config_options(*command, *options);
    auto flags = std::make_shared<StageFlags>();
    add_stage_flags(*command, stage, *flags);
    registry.add(command, [&stage, options, flags](const MpiContext& mpi) {
      run_one_stage(stage, options->load(flags->overrides()), mpi, flags->args);
      return 0;
    });
  }
  {
    auto* command = app.add_subcommand("evaluate", "deprecated: use evaluate-retriever or evaluate-ranker");
    auto options = std::make_shared<ConfigOptions>();
    add_config_options(*command, *options);
    auto which = std::make_shared<std::string>("retriever");
    auto args = std::make_shared<StageArgs>();
    command->add_option("--stage", *which, "which model to evaluate")
        ->capture_default_str()
        ->check(CLI::IsMember({"retriever", "ranker"}));
    command->add_option("--split", args->split, "ranker: the split whose valid retrieval subset is ranked")
        ->capture_default_str()
        ->check(CLI::IsMember({"test", "val"}));
    registry.add(command, [options, which, args](const MpiContext& mpi) {
      const auto& stage = find_stage("evaluate-" + *which);
      if (mpi.rank() == 0)
        spdlog::warn("`evaluate --stage {}` is deprecated, use `{}` (the old form will be removed in the next release)",
                     *which, stage.name);
      run_one_stage(stage, options->load(), mpi, *args);
      return 0;
    });
  }
  {
    auto* command = app.add_subcommand("run",
                                       "the whole pipeline (every stage above, in order) in one run directory; "
                                       "finished stages are skipped");
    auto options = std::make_shared<ConfigOptions>();
    add_config_options(*command, *options);
    auto positional = std::make_shared<std::string>();
    command->add_option("config_file", *positional, "deprecated: the config as a positional argument (use -c)")
        ->check(CLI::ExistingFile);
    auto stages = std::make_shared<std::vector<std::string>>();
    command->add_option("--stages", *stages, "run only these stages (default: all)")
        ->check(CLI::IsMember(pipeline_stage_names()))
        ->delimiter(',');
    registry.add(command, [options, positional, stages](const MpiContext& mpi) {
      if (!positional->empty()) {
        if (!options->config_path.empty()) fail("run: give the config once, with -c (not also as {})", *positional);
        if (mpi.rank() == 0)
          spdlog::warn("`run {}` is deprecated, use `run -c {}` (the old form will be removed in the next release)",
                       *positional, *positional);
        options->config_path = *positional;
      }
      const Config config = options->load();
      const int threads = setup_run(config, mpi, {true, true, "run"});
      auto control = make_stage_communicator(StageComm::kCpu, config);
      run_pipeline(config, *control, *stages);
      record_run_manifest(config, mpi, threads, "run");
      return 0;
    });
  }
}

}  // namespace llamarec
