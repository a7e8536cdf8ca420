// Subcommand registration for the llamarec CLI. Each command_*.cpp adds its subcommands with their
// options and the function that runs each after MPI is up; the stage subcommands come from the
// stage table (pipelines/stages.h).
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "pipelines/config.h"
#include "distributed/mpi_context.h"

namespace llamarec {

// Options shared by every config-driven subcommand.
struct ConfigOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  // Loads the file and applies --set plus the subcommand's own flags (appended as overrides).
  Config load(const std::vector<std::string>& extra_overrides = {}) const;
};

void add_config_options(CLI::App& command, ConfigOptions& options);

class CommandRegistry {
 public:
  using Runner = std::function<int(const MpiContext&)>;
  void add(CLI::App* command, Runner runner) { commands_.push_back({command, std::move(runner)}); }
  int run_selected(const CLI::App& app, const MpiContext& mpi) const;

 private:
  std::vector<std::pair<CLI::App*, Runner>> commands_;
};

void register_commands(CLI::App& app, CommandRegistry& registry);

// One per command_*.cpp.
void register_config_command(CLI::App& app, CommandRegistry& registry);
void register_stage_commands(CLI::App& app, CommandRegistry& registry);  // the stage table, run, evaluate
void register_info_command(CLI::App& app, CommandRegistry& registry);
void register_generate_command(CLI::App& app, CommandRegistry& registry);
void register_score_command(CLI::App& app, CommandRegistry& registry);  // parity checks

}  // namespace llamarec
