#include "pipelines/run_pipeline.h"

#include <mpi.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "distributed/communicator.h"
#include "pipelines/evaluate_ranker.h"
#include "pipelines/preprocess.h"
#include "pipelines/retrieve.h"
#include "pipelines/train_ranker.h"
#include "pipelines/train_retriever.h"

namespace fs = std::filesystem;

namespace llamarec {

const std::vector<std::string>& pipeline_stages() {
  static const std::vector<std::string> stages = {"preprocess",   "train-retriever", "retrieve",
                                                  "evaluate-retriever", "train-ranker", "evaluate-ranker"};
  return stages;
}

namespace {

void run_stage(const std::string& stage, const Config& config, const MpiContext& mpi) {
  if (stage == "preprocess") {
    if (mpi.rank() == 0) {
      const auto options = preprocess_options(config);
      if (!preprocess_output_current(options)) run_preprocess(options);
    }
    MPI_Barrier(MPI_COMM_WORLD);
  } else if (stage == "train-retriever") {
    auto comm = make_communicator("mpi");
    train_retriever(config, *comm);
  } else if (stage == "retrieve") {
    auto comm = make_communicator("mpi");
    run_retrieve(config, *comm);
  } else if (stage == "evaluate-retriever") {
    auto comm = make_communicator("mpi");
    run_evaluate_retriever(config, *comm);
  } else if (stage == "train-ranker") {
    auto comm = make_ranker_communicator(config);
    train_ranker(config, *comm);
  } else if (stage == "evaluate-ranker") {
    auto comm = make_ranker_communicator(config);
    run_evaluate_ranker(config, *comm, "test");
  } else {
    fail("run: unknown stage '{}'", stage);
  }
}

}  // namespace

std::vector<StageTiming> run_pipeline(const Config& config, const MpiContext& mpi,
                                      const std::vector<std::string>& wanted) {
  for (const auto& s : wanted) {
    const auto& all = pipeline_stages();
    if (std::find(all.begin(), all.end(), s) == all.end())
      fail("run: unknown stage '{}' (stages: {})", s, fmt::join(all, ", "));
  }
  const fs::path done_dir = fs::path(config.run.dir) / ".done";
  if (mpi.rank() == 0) fs::create_directories(done_dir);
  MPI_Barrier(MPI_COMM_WORLD);
  std::vector<StageTiming> timings;
  for (const auto& stage : pipeline_stages()) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), stage) == wanted.end()) continue;
    const auto marker = done_dir / stage;
    if (fs::exists(marker)) {
      spdlog::info("== {}: done before, skipped (delete {} to run it again)", stage, marker.string());
      timings.push_back({stage, 0.0, true});
      continue;
    }
    spdlog::info("== {}", stage);
    const auto start = std::chrono::steady_clock::now();
    run_stage(stage, config, mpi);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    timings.push_back({stage, seconds, false});
    if (mpi.rank() == 0) write_file_atomic(marker.string(), fmt::format("{:.3f} s\n", seconds));
    spdlog::info("== {} finished in {}", stage, format_duration(seconds));
    MPI_Barrier(MPI_COMM_WORLD);
  }
  if (mpi.rank() == 0) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& t : timings) {
      if (!t.skipped) j[t.stage] = t.seconds;
    }
    // Merge with earlier invocations' timings (skipped stages keep theirs).
    nlohmann::json merged = nlohmann::json::object();
    const auto metrics_path = config.in_run_dir(config.eval.metrics);
    if (fs::exists(metrics_path)) {
      std::ifstream in(metrics_path);
      try {
        auto root = nlohmann::json::parse(in);
        if (root.contains("timings")) merged = root["timings"];
      } catch (const std::exception&) {
      }
    }
    merged.update(j);
    update_metrics_file(metrics_path, "timings", merged.dump());
    std::string table = "stage timings (wall seconds):";
    for (const auto& t : timings)
      table += fmt::format("\n  {:<20} {}", t.stage, t.skipped ? "skipped" : format_duration(t.seconds));
    spdlog::info("{}", table);
  }
  return timings;
}

}  // namespace llamarec
