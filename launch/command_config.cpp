// `llamarec config`: print the effective config (defaults, file and overrides) with every key documented.
#include <iostream>

#include "launch/commands.h"

namespace llamarec {

void register_config_command(CLI::App& app, CommandRegistry& registry) {
  auto* command = app.add_subcommand("config", "print the effective config with every key and its meaning");
  auto options = std::make_shared<ConfigOptions>();
  add_config_options(*command, *options);
  registry.add(command, [options](const MpiContext& mpi) {
    const Config config = options->load();
    if (mpi.rank() == 0) std::cout << config_to_toml(config);
    return 0;
  });
}

}  // namespace llamarec
