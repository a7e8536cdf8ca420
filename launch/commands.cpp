#include "launch/commands.h"

#include "core/fault_injection.h"

namespace llamarec {

Config ConfigOptions::load(const std::vector<std::string>& extra_overrides) const {
  std::vector<std::string> all = overrides;
  all.insert(all.end(), extra_overrides.begin(), extra_overrides.end());
  return load_config(config_path, all);
}

void add_config_options(CLI::App& command, ConfigOptions& options) {
  command.add_option("-c,--config", options.config_path, "TOML config file (default: built-in defaults)")
      ->check(CLI::ExistingFile);
  command.add_option("--set", options.overrides, "override a config key: --set section.key=value (repeatable)")
      ->allow_extra_args(false);
  command
      .add_option_function<std::string>(
          "--inject-fault",
          [](const std::string& spec) {
            try {
              set_fault_plan(parse_fault_plan(spec));
            } catch (const Error& e) {
              throw CLI::ValidationError(e.what());  // reported like any bad flag, before MPI starts
            }
          },
          "testing: make a rank fail, KIND@POINT=FIRST[-LAST][,rank=R] (core/fault_injection.h), "
          "e.g. throw@step=20,rank=1")
      ->type_name("SPEC");
}

int CommandRegistry::run_selected(const CLI::App& app, const MpiContext& mpi) const {
  for (const auto& [command, runner] : commands_) {
    if (command->parsed()) return runner(mpi);
  }
  return 1;
}

void register_commands(CLI::App& app, CommandRegistry& registry) {
  register_stage_commands(app, registry);
  register_info_command(app, registry);
  register_generate_command(app, registry);
  register_score_command(app, registry);
  register_config_command(app, registry);
}

}  // namespace llamarec
