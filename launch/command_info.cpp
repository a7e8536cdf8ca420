// `llamarec info`.
#include <iostream>

#include "launch/commands.h"
#include "pipelines/dataset_info.h"

namespace llamarec {

void register_info_command(CLI::App& app, CommandRegistry& registry) {
  auto* command = app.add_subcommand("info", "statistics of a preprocessed dataset (.h5)");
  auto path = std::make_shared<std::string>();
  command->add_option("dataset", *path, "dataset.h5")->required();
  registry.add(command, [path](const MpiContext& mpi) {
    if (mpi.rank() == 0) std::cout << dataset_info(*path);
    return 0;
  });
}

}  // namespace llamarec
