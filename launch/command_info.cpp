// `llamarec info` and `llamarec report`.
#include <filesystem>
#include <iostream>

#include "launch/commands.h"
#include "pipelines/artifact_info.h"
#include "pipelines/run_report.h"

namespace llamarec {

void register_info_command(CLI::App& app, CommandRegistry& registry) {
  auto* command = app.add_subcommand(
      "info",
      "what a file or directory of a run holds: dataset.h5, candidates.h5, a retriever checkpoint, an "
      "adapter, a Hugging Face Llama, a run directory");
  auto path = std::make_shared<std::string>();
  command->add_option("path", *path, "the artefact")->required();
  registry.add(command, [path](const MpiContext& mpi) {
    if (mpi.rank() == 0) std::cout << artifact_info(*path);
    return 0;
  });

  auto* report = app.add_subcommand("report", "report.md with PNG plots (gnuplot) and CSVs for a run directory");
  auto run_dir = std::make_shared<std::string>();
  auto out_dir = std::make_shared<std::string>();
  report->add_option("run_dir", *run_dir, "run directory (holding metrics.json, metrics.jsonl)")
      ->required()
      ->check(CLI::ExistingDirectory);
  report->add_option("--output", *out_dir, "where to write it (default RUN_DIR/report)");
  registry.add(report, [run_dir, out_dir](const MpiContext& mpi) {
    if (mpi.rank() != 0) return 0;
    const auto dir = std::filesystem::path(*run_dir);
    const auto md = write_run_report({(dir / "metrics.json").string(), (dir / "metrics.jsonl").string(),
                                      out_dir->empty() ? (dir / "report").string() : *out_dir});
    std::cout << "report: " << md << "\n";
    return 0;
  });
}

}  // namespace llamarec
