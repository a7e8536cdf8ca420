// Verbalizer ranking throughput: the ranker's evaluation path itself (prompt building and
// tokenisation, one forward per batch of prompts through the FSDP-sharded base, the 20 letter
// logits read at the last position) on the val users of a run directory that already holds the
// dataset and the retriever's candidates, for whatever world size mpirun gives:
//   build/benchmarks/bench_ranker_scoring CONFIG.toml [out.json] [key=value ...]
//   mpirun -np 2 build/benchmarks/bench_ranker_scoring CONFIG.toml [out.json] [key=value ...]
// Each user's candidates are shown once, in retriever order: the paper's one forward per user.
// Defaults: batch 16 (ranker.eval_batch_size), 64 val users (ranker.val_users, an equal share from
// each rank's users; 0: all), 1 LibTorch thread per rank; the base with a freshly initialised LoRA
// (the same arithmetic as a trained one), on distributed.device (CUDA where available). One untimed
// batch first (allocator, kernels); the timed pass then scores every user. A batch is
// ranker.eval_batch_size prompts on each rank; its latency is the timed pass over the forwards each
// rank ran, and users/s counts all ranks. Each (ranks, model, dtype, batch, max_text_tokens) keeps
// one row.
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "benchmarks/support/bench_arguments.h"
#include "benchmarks/support/results_file.h"
#include "core/cpu_runtime.h"
#include "core/error.h"
#include "core/logging.h"
#include "core/sequence_dataset.h"
#include "models/llama_config.h"
#include "pipelines/config.h"
#include "pipelines/ranker_examples.h"
#include "pipelines/ranker_scoring.h"
#include "pipelines/ranker_setup.h"
#include "pipelines/stages.h"

using namespace llamarec;
namespace fs = std::filesystem;

namespace {

int run(int argc, char** argv, Communicator& comm) {
  const auto args = parse_bench_arguments(argc, argv, "bench_ranker_scoring CONFIG.toml [out.json] [key=value ...]",
                                          "benchmarks/results/ranker_scoring.json",
                                          {"run.threads=1", "ranker.eval_batch_size=16", "ranker.val_users=64"});
  if (args.profile) fail("bench_ranker_scoring: --profile is not supported (bench_ranker_train has it)");
  const Config config = start_config_benchmark(args.input, args, comm);
  const auto& rc = config.ranker;
  if (rc.eval_batch_size < 1) fail("bench_ranker_scoring: ranker.eval_batch_size must be >= 1");

  const auto shard = SequenceDataset::open_shard(config.in_run_dir(config.data.dataset), comm.rank(), comm.size());
  const auto candidates_path = config.in_run_dir(config.retrieval.candidates);
  const auto candidates = read_ranker_candidates(candidates_path, shard, rc.num_candidates);
  const auto all_examples = make_ranker_eval_examples(shard, candidates, Split::kVal, rc.num_candidates);
  // Each rank scores an equal share of ranker.val_users from its own users (the first ones), so that
  // every rank's forwards are full: the first users in global order would all sit on rank 0.
  const int64_t wanted = rc.val_users > 0 ? rc.val_users : std::numeric_limits<int64_t>::max() / 2;
  const int64_t share = wanted / comm.size() + (comm.rank() < wanted % comm.size() ? 1 : 0);
  const std::vector<RankerExample> examples(
      all_examples.begin(), all_examples.begin() + std::min<int64_t>(share, static_cast<int64_t>(all_examples.size())));
  auto count = torch::tensor({static_cast<double>(examples.size())}, torch::kFloat64);
  comm.all_reduce(count, ReduceOp::kSum);
  const auto users = static_cast<int64_t>(count.item<double>());
  if (users == 0) fail("{}: the val split has no user whose answer was retrieved", candidates_path);

  // The base on the ranker's device and backend (NCCL on GPUs); the bench's own sums stay on `comm`.
  const auto ranker_comm = make_stage_communicator(StageComm::kRanker, config);
  auto setup = make_ranker_setup(config, *ranker_comm, shard.titles());
  setup.model->apply_lora(config.lora, 1);
  const PromptBuilder prompts(*setup.tokenizer, shard.titles(), setup.train_letter_ids, setup.prompt_options);
  auto score = [&](const std::vector<RankerExample>& which) {
    torch::NoGradGuard no_grad;
    const std::vector<std::vector<CandidateOrder>> orders(which.size(), {retriever_order(rc.num_candidates)});
    return score_in_orders(*setup.model, prompts, shard, which, orders, setup.verbalizer_ids, rc.eval_batch_size,
                           setup.positions);  // [E, 1, C] on the CPU: the device has finished
  };
  score({examples.begin(), examples.begin() + std::min<int64_t>(rc.eval_batch_size, examples.size())});
  comm.barrier();
  const auto start = std::chrono::steady_clock::now();
  const auto scored = score(examples);
  comm.barrier();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // The prompts' lengths, from the same builder (tokenising again costs little beside the forwards).
  // [tokens, users, ranks whose scores miss users] of this rank's examples: summed before anyone fails.
  auto tokens = torch::zeros({3}, torch::kFloat64);
  for (const auto& ex : examples) {
    tokens[0] += static_cast<double>(prompts.encode(example_history(shard, ex), ex.candidates).ids.size());
    tokens[1] += 1.0;
  }
  tokens[2] = scored.size(0) != static_cast<int64_t>(examples.size()) ? 1.0 : 0.0;
  comm.all_reduce(tokens, ReduceOp::kSum);
  if (tokens[2].item<double>() > 0) fail("bench_ranker_scoring: the scores of some rank miss some of its users");
  const double mean_tokens = tokens[0].item<double>() / static_cast<double>(users);
  // Each rank's forwards hold up to a batch of its own users: the latency is of one such forward.
  auto forwards = torch::tensor(
      {static_cast<double>((static_cast<int64_t>(examples.size()) + rc.eval_batch_size - 1) / rc.eval_batch_size)},
      torch::kFloat64);
  comm.all_reduce(forwards, ReduceOp::kMax);
  const double batches = std::max(1.0, forwards.item<double>());
  const std::string model = rc.model.empty() ? config.in_run_dir(config.builtin_llama.dir) : rc.model;
  const auto llama = load_llama_config(fs::path(model).string());
  if (comm.rank() != 0) return 0;

  const std::vector<std::string> row_keys = {"ranks", "model", "dtype", "batch", "max_text_tokens"};
  auto all = read_results(args.out_path, "ranker_scoring");
  const nlohmann::json row = {{"ranks", comm.size()},
                              {"model", model},
                              {"parameters", llama_parameter_count(llama)},
                              {"dtype", std::string(c10::toString(setup.model->dtype()))},
                              {"device", setup.model->device().str()},
                              {"batch", rc.eval_batch_size},
                              {"max_text_tokens", rc.max_text_tokens},
                              {"threads_per_rank", at::get_num_threads()},
                              {"users", users},
                              {"mean_prompt_tokens", mean_tokens},
                              {"seconds", seconds},
                              {"seconds_per_batch", seconds / batches},
                              {"seconds_per_user", seconds / static_cast<double>(users)},
                              {"users_per_second", static_cast<double>(users) / seconds},
                              {"prompt_tokens_per_second", mean_tokens * static_cast<double>(users) / seconds}};
  replace_row(all["runs"], row, row_keys);
  write_results(args.out_path, all);
  fmt::print("\nverbalizer ranking, {} rank(s) x {} thread(s), {} ({:.2f}M parameters, {}, {}), batch {}\n",
             comm.size(), at::get_num_threads(), model, llama_parameter_count(llama) / 1e6,
             row["dtype"].get<std::string>(), row["device"].get<std::string>(), rc.eval_batch_size);
  fmt::print("{:>6} {:>12} {:>10} {:>12} {:>10} {:>14}\n", "users", "tokens/user", "s/batch", "ms/user", "users/s",
             "prompt tok/s");
  fmt::print("{:>6} {:>12.0f} {:>10.3f} {:>12.1f} {:>10.2f} {:>14.0f}\n", users, mean_tokens,
             row["seconds_per_batch"].get<double>(), 1e3 * row["seconds_per_user"].get<double>(),
             row["users_per_second"].get<double>(), row["prompt_tokens_per_second"].get<double>());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_mpi_benchmark(argc, argv, "bench_ranker_scoring", run); }
