// LlamaRec ranker training throughput: `train_ranker` itself (prompt building and tokenisation, the
// FSDP-sharded forward and recomputing backward, the LoRA all-reduce, AdamW) on a run directory that
// already holds the dataset and the retriever's candidates, for whatever world size mpirun gives:
//   build/benchmarks/bench_ranker_train CONFIG.toml [out.json] [key=value ...] [--profile[=ops|scopes]]
//   mpirun -np 2 build/benchmarks/bench_ranker_train CONFIG.toml [out.json] [key=value ...]
// CONFIG is a pipeline config (configs/ml-100k-stories260k.toml) whose run.dir has been through
// preprocess, train-retriever and retrieve. The adapter, its state and the scalars go to a temporary
// directory, so the run directory is left as it was. Defaults: 20 steps, 1 LibTorch thread per rank,
// validation on 16 users at step 0 and at the end (excluded from the step time). A random base of
// another size: builtin_llama.* overrides with ranker.model= (empty) and builtin_llama.dir=<new dir>.
// Each (ranks, model, global batch, max_text_tokens) keeps one row; --profile adds, per row, where
// the milliseconds of one step go on rank 0 (benchmarks/support/step_profile.h).
#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "benchmarks/support/bench_arguments.h"
#include "benchmarks/support/results_file.h"
#include "benchmarks/support/step_profile.h"
#include "core/cpu_runtime.h"
#include "core/error.h"
#include "core/logging.h"
#include "models/llama_config.h"
#include "pipelines/config.h"
#include "pipelines/stages.h"
#include "pipelines/train_ranker.h"

using namespace llamarec;
namespace fs = std::filesystem;

namespace {

int run(int argc, char** argv, Communicator& comm) {
  const auto args = parse_bench_arguments(
      argc, argv, "bench_ranker_train CONFIG.toml [out.json] [key=value ...] [--profile[=ops|scopes]]",
      "benchmarks/results/ranker_train.json", {"ranker.max_steps=20", "run.threads=1", "ranker.val_users=16"});
  Config config = start_config_benchmark(args.input, args, comm);
  keep_freed_memory();
  auto& rc = config.ranker;
  rc.val_interval = rc.max_steps;
  rc.patience = std::max<int64_t>(1, rc.max_steps);
  rc.checkpoint_interval = 0;
  const fs::path scratch = fs::temp_directory_path() / fmt::format("llamarec_bench_ranker_np{}", comm.size());
  if (comm.rank() == 0) {
    fs::remove_all(scratch);
    fs::create_directories(scratch);
  }
  comm.barrier();
  rc.adapter = (scratch / "adapter").string();
  config.eval.scalars = "";

  StepProfile profiler(args.profile_mode);
  if (args.profile) profiler.start();
  // On the ranker's device and backend (NCCL on GPUs), as `llamarec train-ranker`.
  const auto ranker_comm = make_stage_communicator(StageComm::kRanker, config);
  const auto result = train_ranker(config, *ranker_comm);
  if (args.profile) profiler.stop();

  // Every rank's tokens: the step processes the global batch.
  auto tokens = torch::tensor({static_cast<double>(result.tokens)}, torch::kFloat64);
  comm.all_reduce(tokens, ReduceOp::kSum);
  const double per_step = result.seconds_per_step;
  const double tokens_per_step = result.steps_run > 0 ? tokens.item<double>() / result.steps_run : 0.0;
  const std::string model = rc.model.empty() ? config.in_run_dir(config.builtin_llama.dir) : rc.model;
  const auto llama = load_llama_config(fs::path(model).string());
  if (comm.rank() != 0) return 0;
  const std::vector<std::string> row_keys = {"ranks", "model", "global_batch", "max_text_tokens"};
  auto all = read_results(args.out_path, "ranker_train");
  nlohmann::json row = {{"ranks", comm.size()},
                        {"model", model},
                        {"parameters", llama_parameter_count(llama)},
                        {"dtype", enum_name(rc.dtype)},
                        {"global_batch", rc.batch_size},
                        {"max_text_tokens", rc.max_text_tokens},
                        {"threads_per_rank", at::get_num_threads()},
                        {"steps", result.steps_run},
                        {"seconds_per_step", per_step},
                        {"steps_per_second", per_step > 0 ? 1.0 / per_step : 0.0},
                        {"tokens_per_step", tokens_per_step},
                        {"tokens_per_second_per_rank", per_step > 0 ? tokens_per_step / per_step / comm.size() : 0.0}};
  if (args.profile) {
    auto entry = print_step_profile(profiler, comm.size(), per_step);
    for (const auto& key : row_keys) entry[key] = row[key];
    auto profile_keys = row_keys;
    profile_keys.push_back("profile");
    replace_row(all["profiles"], entry, profile_keys);
    write_results(args.out_path, all);
    return 0;
  }
  replace_row(all["runs"], row, row_keys);
  fmt::print("\nranker training, {} rank(s) x {} thread(s), {} ({:.2f}M parameters, {}), global batch {}\n",
             comm.size(), at::get_num_threads(), model, llama_parameter_count(llama) / 1e6, enum_name(rc.dtype),
             rc.batch_size);
  fmt::print("{:>5} {:>10} {:>9} {:>12} {:>16}\n", "ranks", "s/step", "steps/s", "tokens/step", "tokens/s/rank");
  for (const auto& r : all["runs"]) {
    if (r.value("model", "") != model || r.value("global_batch", int64_t{0}) != rc.batch_size) continue;
    fmt::print("{:>5} {:>10.3f} {:>9.2f} {:>12.0f} {:>16.0f}\n", r["ranks"].get<int>(),
               r["seconds_per_step"].get<double>(), r["steps_per_second"].get<double>(),
               r["tokens_per_step"].get<double>(), r["tokens_per_second_per_rank"].get<double>());
  }
  write_results(args.out_path, all);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_mpi_benchmark(argc, argv, "bench_ranker_train", run); }
