// LRURec data-parallel training throughput: `train_retriever` itself (sharded examples, one flat
// gradient all-reduce per step, clip, AdamW) on a preprocessed dataset, at a fixed global batch, for
// whatever world size mpirun gives. Each world size replaces its row in the JSON file, so
//   build/benchmarks/bench_retriever_train DATASET.h5 [out.json] [key=value ...]
//   mpirun -np 2 build/benchmarks/bench_retriever_train DATASET.h5 [out.json] [key=value ...]
// builds the 1-vs-2-rank table. Defaults are LlamaRec's ML-100k settings (batch 16, max_len 200,
// dropout 0.2), the ones the official Python code takes 0.32 s/iteration for on this CPU (1 thread);
// overrides such as retriever.batch_size=64 retriever.max_len=50 give the Amazon settings.
// Validation time is excluded (train_retriever reports it apart). 1 LibTorch thread per rank.
// --profile runs the same iterations under LibTorch's profiler and adds, per rank count, where the
// milliseconds of one iteration go (benchmarks/support/step_profile.h) to the JSON's "profiles"; on
// more than one rank, rank 0's waiting for the slowest rank shows as train.all_reduce.
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "benchmarks/support/step_profile.h"
#include "core/atomic_file.h"
#include "pipelines/config.h"
#include "core/cpu_runtime.h"
#include "core/logging.h"
#include "distributed/mpi_communicator.h"
#include "distributed/mpi_context.h"
#include "pipelines/train_retriever.h"

using namespace llamarec;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  MpiContext mpi(&argc, &argv);
  MpiCommunicator comm;
  if (argc < 2) {
    if (comm.rank() == 0) fmt::print(stderr, "usage: bench_retriever_train DATASET.h5 [out.json] [key=value ...]\n");
    return 2;
  }
  const std::string dataset = fs::absolute(argv[1]).string();
  const std::string out_path = argc > 2 ? argv[2] : "benchmarks/results/retriever_train.json";
  std::vector<std::string> overrides = {"retriever.max_steps=300", "run.threads=1"};
  bool profile = false;
  for (int i = 3; i < argc; ++i) {
    if (std::string(argv[i]) == "--profile") {
      profile = true;
    } else {
      overrides.emplace_back(argv[i]);
    }
  }
  Config config = load_config("", overrides);
  set_cpu_threads(static_cast<int>(std::max<int64_t>(1, config.run.threads)));
  keep_freed_memory();
  // One validation at iteration 0 and one at the end; no early stopping in between.
  config.retriever.val_interval = config.retriever.max_steps;
  config.data.dataset = dataset;
  const fs::path dir = fs::temp_directory_path() / fmt::format("llamarec_bench_retriever_np{}", comm.size());
  config.run.dir = dir.string();
  if (comm.rank() == 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  comm.barrier();
  LogOptions log;
  log.rank = comm.rank();
  log.world_size = comm.size();
  init_logging(log);

  StepProfile profiler;
  if (profile) profiler.start();
  const auto result = train_retriever(config, comm);
  if (profile) profiler.stop();
  const auto& rc = config.retriever;
  const double per_it = result.seconds_per_step;
  // The official LlamaRec LRURec, s/iteration at batch 16, max_len 200, 1 thread, as measured side by
  // side on this machine (see benchmarks/retriever_vs_official.sh, which measures it where installed).
  const double reference = 0.32;
  // Each (ranks, batch, max_len, dataset) keeps one row.
  const auto replace_row = [&](nlohmann::json& rows, const nlohmann::json& row) {
    for (auto it = rows.begin(); it != rows.end();) {
      const bool same = (*it)["ranks"] == row["ranks"] && (*it)["global_batch"] == row["global_batch"] &&
                        (*it)["max_len"] == row["max_len"] && (*it)["dataset"] == row["dataset"];
      it = same ? rows.erase(it) : it + 1;
    }
    rows.push_back(row);
  };
  if (comm.rank() == 0) {
    nlohmann::json all = {{"benchmark", "retriever_train"}, {"runs", nlohmann::json::array()}};
    if (fs::exists(out_path)) {
      try {
        std::ifstream in(out_path);
        all = nlohmann::json::parse(in);
      } catch (const std::exception&) {
      }
    }
    nlohmann::json row = {{"ranks", comm.size()},
                          {"dataset", dataset},
                          {"global_batch", rc.batch_size},
                          {"max_len", rc.max_len},
                          {"dropout", rc.model.dropout},
                          {"scan", enum_name(rc.model.scan)},
                          {"threads_per_rank", at::get_num_threads()},
                          {"iterations", result.steps_run},
                          {"seconds_per_iteration", per_it},
                          {"iterations_per_second", 1.0 / per_it},
                          {"sequences_per_second", rc.batch_size / per_it},
                          {"validation_seconds", result.validation_seconds}};
    if (rc.batch_size == 16 && rc.max_len == 200) row["speedup_vs_python_reference"] = reference / per_it;
    if (profile) {
      const auto ms = profiler.milliseconds_per_step();
      double total = 0;
      for (const auto& [category, value] : ms) total += value;
      fmt::print(
          "\nWhere one iteration goes, rank 0 of {} ({} iterations under the profiler, {:.1f} ms each; "
          "{:.1f} ms unprofiled):\n",
          comm.size(), profiler.steps(), total, per_it * 1000);
      std::vector<std::pair<double, std::string>> sorted;
      for (const auto& [category, value] : ms) sorted.emplace_back(value, category);
      std::sort(sorted.rbegin(), sorted.rend());
      for (const auto& [value, category] : sorted)
        fmt::print("  {:<34} {:>8.2f} ms {:>6.1f} %\n", category, value, 100.0 * value / total);
      fmt::print("largest ops (self time):\n");
      for (const auto& [op, value] : profiler.top_ops(25)) fmt::print("  {:<70} {:>8.2f} ms\n", op, value);
      nlohmann::json entry = {{"ranks", comm.size()},           {"dataset", dataset},
                              {"global_batch", rc.batch_size},  {"max_len", rc.max_len},
                              {"iterations", profiler.steps()}, {"profiled_ms_per_iteration", total},
                              {"ms_per_iteration", ms}};
      auto& profiles = all["profiles"];
      if (!profiles.is_array()) profiles = nlohmann::json::array();
      replace_row(profiles, entry);
      write_file_atomic(out_path, all.dump(2) + "\n");
      fmt::print("wrote {}\n", out_path);
      return 0;
    }
    auto& runs = all["runs"];
    replace_row(runs, row);
    fmt::print("\nLRURec training, {} rank(s) x {} thread(s), global batch {}, max_len {}, dropout {}, {} scan\n",
               comm.size(), at::get_num_threads(), rc.batch_size, rc.max_len, rc.model.dropout,
               enum_name(rc.model.scan));
    fmt::print("{:>5} {:>8} {:>12} {:>10} {:>12} {:>16}\n", "ranks", "batch", "s/iter", "iter/s", "seq/s",
               "vs official 0.32s");
    for (const auto& r : runs) {
      if (r["global_batch"] != rc.batch_size || r["max_len"] != rc.max_len || r["dataset"] != dataset) continue;
      fmt::print("{:>5} {:>8} {:>12.4f} {:>10.2f} {:>12.1f} {:>16}\n", r["ranks"].get<int>(),
                 r["global_batch"].get<int64_t>(), r["seconds_per_iteration"].get<double>(),
                 r["iterations_per_second"].get<double>(), r["sequences_per_second"].get<double>(),
                 r.contains("speedup_vs_python_reference")
                     ? fmt::format("{:.2f}x", r["speedup_vs_python_reference"].get<double>())
                     : std::string("-"));
    }
    write_file_atomic(out_path, all.dump(2) + "\n");
    fmt::print("wrote {}\n", out_path);
  }
  return 0;
}
