#include "pipelines/run_pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/progress.h"
#include "core/stop_signal.h"
#include "pipelines/metrics_file.h"
#include "pipelines/results_table.h"
#include "pipelines/run_report.h"
#include "pipelines/stage_record.h"
#include "pipelines/stages.h"

namespace fs = std::filesystem;

namespace llamarec {

std::vector<StageTiming> run_pipeline(const Config& config, Communicator& control,
                                      const std::vector<std::string>& wanted) {
  for (const auto& s : wanted) find_stage(s);  // unknown names fail before anything runs
  const fs::path done_dir = fs::path(config.run.dir) / ".done";
  if (control.rank() == 0) fs::create_directories(done_dir);
  control.barrier();
  const auto is_wanted = [&](const Stage& stage) {
    return wanted.empty() || std::find(wanted.begin(), wanted.end(), stage.name) != wanted.end();
  };
  // Every finished stage is checked against this config before anything runs, so that a run
  // directory of another config stops here rather than halfway.
  for (const auto& stage : pipeline_stages()) {
    const auto marker = done_dir / stage.name;
    if (!is_wanted(stage) || !fs::exists(marker)) continue;
    const auto problem = stage_record_mismatch(marker.string(), stage.name, stage_config_values(config, stage.name));
    if (!problem.empty()) fail("{}", problem);
  }
  const StopSignalScope stop_on_signal;
  std::vector<StageTiming> timings;
  const auto& stages = pipeline_stages();
  for (size_t i = 0; i < stages.size(); ++i) {
    const auto& stage = stages[i];
    if (!is_wanted(stage)) continue;
    const auto marker = done_dir / stage.name;
    if (fs::exists(marker)) {
      spdlog::info("== {}: done before, skipped (delete {} to run it again)", stage.name, marker.string());
      timings.push_back({stage.name, 0.0, true});
      continue;
    }
    // Its outputs are about to change, so what later stages made from the old ones is stale.
    control.barrier();
    if (control.rank() == 0) {
      for (size_t j = i + 1; j < stages.size(); ++j) {
        const auto later = done_dir / stages[j].name;
        std::error_code ec;
        if (fs::remove(later, ec)) spdlog::info("   {} will run again ({} runs first)", stages[j].name, stage.name);
      }
    }
    control.barrier();
    spdlog::info("== {}", stage.name);
    const auto start = std::chrono::steady_clock::now();
    {
      auto comm = make_stage_communicator(stage.comm, config);
      stage.run(config, *comm, StageArgs{});
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    timings.push_back({stage.name, seconds, false});
    if (control.rank() == 0) write_stage_record(marker.string(), seconds, stage_config_values(config, stage.name));
    spdlog::info("== {} finished in {}", stage.name, format_duration(seconds));
    // A stop signal that came during a stage other than training: stop before the next one.
    auto stop = torch::full({1}, stop_signal() != 0 ? 1.0 : 0.0, torch::kDouble);
    control.all_reduce(stop, ReduceOp::kSum);
    if (stop.item<double>() > 0)
      throw StopRequested(
          fmt::format("stopped on request after stage {}: run the same command again to go on", stage.name));
  }
  if (control.rank() == 0) {
    // Merged with earlier invocations' timings: skipped stages keep theirs.
    const auto metrics_path = config.in_run_dir(config.eval.metrics);
    auto merged = read_metrics_file(metrics_path).value("timings", nlohmann::json::object());
    for (const auto& t : timings) {
      if (!t.skipped) merged[t.stage] = t.seconds;
    }
    update_metrics_file(metrics_path, "timings", merged);
    spdlog::info("results ({}):\n{}", metrics_path, format_results_table(read_metrics_file(metrics_path)));
    // The report is for reading; a run whose plots fail is still a finished run.
    try {
      const auto report = write_run_report(
          {metrics_path, config.in_run_dir(config.eval.scalars), (fs::path(config.run.dir) / "report").string()});
      spdlog::info("report: {}", report);
    } catch (const Error& e) {
      spdlog::warn("report not written: {}", e.what());
    }
  }
  return timings;
}

}  // namespace llamarec
