// `llamarec preprocess` and `llamarec info`.
#include <spdlog/spdlog.h>

#include <iostream>

#include "launch/commands.h"
#include "pipelines/dataset_info.h"
#include "pipelines/preprocess.h"
#include "pipelines/run_setup.h"

namespace llamarec {

void register_data_commands(CLI::App& app, CommandRegistry& registry) {
  {
    auto* command = app.add_subcommand(
        "preprocess", "import a raw dataset (movielens, amazon, recbole, synthetic) into an HDF5 sequence dataset");
    auto options = std::make_shared<ConfigOptions>();
    add_config_options(*command, *options);
    struct Flags {
      std::string format, input, meta, output;
      bool force = false;
    };
    auto flags = std::make_shared<Flags>();
    command->add_option("--format", flags->format, "data.format: movielens, amazon, recbole or synthetic");
    command->add_option("--input", flags->input, "data.input: raw file or folder");
    command->add_option("--meta", flags->meta, "data.meta: Amazon metadata or RecBole .item file");
    command->add_option("-o,--output", flags->output, "data.dataset: output .h5 (relative: inside run.dir)");
    command->add_flag("--force", flags->force, "rebuild even if the output is up to date");
    registry.add(command, [options, flags](const MpiContext& mpi) {
      std::vector<std::string> extra;
      if (!flags->format.empty()) extra.push_back("data.format=" + flags->format);
      if (!flags->input.empty()) extra.push_back("data.input=" + flags->input);
      if (!flags->meta.empty()) extra.push_back("data.meta=" + flags->meta);
      if (!flags->output.empty()) extra.push_back("data.dataset=" + flags->output);
      const Config config = options->load(extra);
      setup_run(config, mpi, {true, true, "preprocess"});
      // One writer: preprocessing is cheap next to training and the output is one file.
      if (mpi.rank() == 0) {
        const auto preprocess = preprocess_options(config);
        if (!flags->force && preprocess_output_current(preprocess)) {
          spdlog::info("{} is up to date (use --force to rebuild)", preprocess.output);
        } else {
          run_preprocess(preprocess);
        }
      }
      MPI_Barrier(MPI_COMM_WORLD);
      return 0;
    });
  }
  {
    auto* command = app.add_subcommand("info", "statistics of a preprocessed dataset (.h5)");
    auto path = std::make_shared<std::string>();
    command->add_option("dataset", *path, "dataset.h5")->required();
    registry.add(command, [path](const MpiContext& mpi) {
      if (mpi.rank() == 0) std::cout << dataset_info(*path);
      return 0;
    });
  }
}

}  // namespace llamarec
