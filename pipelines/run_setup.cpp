#include "pipelines/run_setup.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

#include "core/cpu_quota.h"
#include "core/cpu_runtime.h"
#include "core/logging.h"
#include "pipelines/metrics_file.h"
#include "pipelines/run_manifest.h"

namespace llamarec {

int setup_run(const Config& config, const MpiContext& mpi, const RunSetupOptions& options) {
  init_logging({mpi.rank(), mpi.size(), config.run.log_level, config.run.log_all_ranks});
  // Ranks on one node share its cores: oversubscribing threads makes every rank slower.
  const auto& node = mpi.node_cpus();
  const int cpu_limit = process_cpu_limit();
  const auto threads_of = [&](int local_rank) {
    return config.run.threads > 0 ? static_cast<int>(config.run.threads)
                                  : threads_per_rank(node[local_rank], node, cpu_limit);
  };
  const int threads = threads_of(mpi.local_rank());
  set_cpu_threads(threads);
  keep_freed_memory();
  if (mpi.rank() == 0) {
    std::filesystem::create_directories(config.run.dir);
    if (options.save_config) {
      save_config(config, (std::filesystem::path(config.run.dir) / ("config." + options.stage + ".toml")).string());
    }
    // Uneven binding gives ranks different counts: the range over this node's.
    int fewest = threads, most = threads;
    for (int r = 0; r < static_cast<int>(node.size()); ++r) {
      fewest = std::min(fewest, threads_of(r));
      most = std::max(most, threads_of(r));
    }
    spdlog::info(
        "llamarec {} | {} rank(s), {} thread(s) per rank (rank 0 on CPUs {}{}) | run dir {}", options.stage, mpi.size(),
        fewest == most ? std::to_string(most) : fmt::format("{}-{}", fewest, most), node[mpi.local_rank()].to_string(),
        cpu_limit > 0 ? fmt::format(", a CPU quota of {} for the node's ranks", cpu_limit) : "", config.run.dir);
    if (options.print_config) spdlog::debug("effective config:\n{}", config_to_toml(config));
  }
  return threads;
}

void record_run_manifest(const Config& config, const MpiContext& mpi, int threads, const std::string& stage) {
  if (mpi.rank() != 0) return;
  const auto metrics_path = config.in_run_dir(config.eval.metrics);
  auto manifest = read_metrics_file(metrics_path).value("manifest", nlohmann::json::object());
  manifest[stage] = run_manifest(config, mpi, threads, stage);
  update_metrics_file(metrics_path, "manifest", manifest);
}

}  // namespace llamarec
