// Order-robust verbalizer scoring (ranker.permutations = K): the K prompts of a user share their
// instruction and history, which score_in_orders runs once into a KV cache that the K candidate
// parts continue. This measures that against K independent forwards, on the first N test users of a
// run directory that holds the dataset and the retriever's candidates, with the run's ranker base
// (and its adapter where one was trained):
//   build/benchmarks/bench_ranker_permutations CONFIG.toml [out.json] [key=value ...]
//   mpirun -np 2 build/benchmarks/bench_ranker_permutations CONFIG.toml ...
// bench.users (default 64) and bench.permutations (default 4) are read from the overrides. Three
// repeats, alternating the two ways, medians. One row per (ranks, model, K, users).
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "benchmarks/support/bench_arguments.h"
#include "benchmarks/support/results_file.h"
#include "benchmarks/support/sample_stats.h"
#include "core/candidates_file.h"
#include "core/cpu_runtime.h"
#include "core/error.h"
#include "core/logging.h"
#include "core/sequence_dataset.h"
#include "pipelines/candidate_orders.h"
#include "pipelines/config.h"
#include "pipelines/ranker_examples.h"
#include "pipelines/ranker_scoring.h"
#include "pipelines/ranker_setup.h"

using namespace llamarec;
namespace fs = std::filesystem;

namespace {

// Takes "bench.NAME=V" out of the overrides (they are not config keys).
int64_t take_option(std::vector<std::string>& overrides, const std::string& name, int64_t fallback) {
  int64_t value = fallback;
  const std::string prefix = "bench." + name + "=";
  overrides.erase(std::remove_if(overrides.begin(), overrides.end(),
                                 [&](const std::string& o) {
                                   if (o.rfind(prefix, 0) != 0) return false;
                                   value = std::stoll(o.substr(prefix.size()));
                                   return true;
                                 }),
                  overrides.end());
  return value;
}

int run(int argc, char** argv, Communicator& comm) {
  auto args = parse_bench_arguments(argc, argv, "bench_ranker_permutations CONFIG.toml [out.json] [key=value ...]",
                                    "benchmarks/results/ranker_permutations.json", {"run.threads=1"});
  const int64_t users = take_option(args.overrides, "users", 64);
  const int64_t k = take_option(args.overrides, "permutations", 4);
  const Config config = start_config_benchmark(args.input, args, comm);
  const auto& rc = config.ranker;
  const auto shard = SequenceDataset::open_shard(config.in_run_dir(config.data.dataset), comm.rank(), comm.size());
  const auto candidates =
      read_ranker_candidates(config.in_run_dir(config.retrieval.candidates), shard, rc.num_candidates);
  auto setup = make_ranker_setup(config, comm, shard.titles());
  const auto adapter = config.in_run_dir(rc.adapter);
  const bool trained = fs::exists(fs::path(adapter) / "adapter_config.json");
  if (trained) {
    setup.model->load_adapter(adapter);
  } else {
    setup.model->apply_lora(config.lora, 1);
  }
  const PromptBuilder prompts(*setup.tokenizer, shard.titles(), setup.train_letter_ids, setup.prompt_options);
  const auto examples = make_ranker_eval_examples(shard, candidates, Split::kTest, rc.num_candidates);
  std::vector<std::vector<CandidateOrder>> orders;
  for (const auto& ex : examples)
    orders.push_back(shuffled_orders(1, Split::kTest, shard.global_user(ex.local_user), rc.num_candidates, k));
  // How much of the prompt tokens the shared prefix covers, over this rank's first users.
  int64_t prefix_tokens = 0, all_tokens = 0;
  for (size_t e = 0; e < std::min<size_t>(examples.size(), static_cast<size_t>(users)); ++e) {
    std::vector<TokenizedPrompt> variants;
    for (const auto& order : orders[e]) {
      variants.push_back(prompts.encode(example_history(shard, examples[e]), in_order(examples[e].candidates, order)));
    }
    const auto n = static_cast<int64_t>(shared_prefix_length(variants));
    for (const auto& v : variants) all_tokens += static_cast<int64_t>(v.ids.size());
    prefix_tokens += n * static_cast<int64_t>(variants.size());
  }
  // The same forwards per step both ways: eval_batch_size prompts (eval_batch_size / K users).
  const int64_t per_forward = rc.eval_batch_size;
  std::vector<double> shared_s, separate_s;
  torch::Tensor shared, separate;
  for (int repeat = 0; repeat < 3; ++repeat) {
    for (const bool share : {true, false}) {
      comm.barrier();
      const auto start = std::chrono::steady_clock::now();
      auto scores = score_in_orders(*setup.model, prompts, shard, examples, orders, setup.verbalizer_ids, per_forward,
                                    setup.positions, users, share);
      comm.barrier();
      (share ? shared_s : separate_s)
          .push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      (share ? shared : separate) = scores;
    }
  }
  const double difference = shared.numel() > 0 ? (shared - separate).abs().max().item<double>() : 0.0;
  auto max_difference = torch::tensor({difference}, torch::kFloat64);
  comm.all_reduce(max_difference, ReduceOp::kMax);
  if (comm.rank() != 0) return 0;
  const std::string model = rc.model.empty() ? config.in_run_dir(config.builtin_llama.dir) : rc.model;
  const int64_t scored_users = std::min<int64_t>(users, static_cast<int64_t>(examples.size()) * comm.size());
  nlohmann::json row = {
      {"ranks", comm.size()},
      {"model", model},
      {"adapter", trained ? adapter : "untrained LoRA"},
      {"permutations", k},
      {"users", users},
      {"prompts_per_forward", std::max<int64_t>(1, per_forward / k) * k},
      {"mean_prompt_tokens",
       all_tokens > 0 ? static_cast<double>(all_tokens) /
                            static_cast<double>(std::min<int64_t>(users, static_cast<int64_t>(examples.size())) * k)
                      : 0.0},
      {"shared_prefix_share_rank0", all_tokens > 0 ? static_cast<double>(prefix_tokens) / all_tokens : 0.0},
      {"threads_per_rank", at::get_num_threads()},
      {"seconds_shared_prefix", median(shared_s)},
      {"seconds_independent", median(separate_s)},
      {"speedup", median(separate_s) / median(shared_s)},
      {"max_abs_score_difference", max_difference.item<double>()}};
  auto all = read_results(args.out_path, "ranker_permutations");
  replace_row(all["runs"], row, {"ranks", "model", "permutations", "users"});
  write_results(args.out_path, all);
  fmt::print("\n{} users (about {} on rank 0) x K = {} shuffles, {} rank(s), {}\n", users, scored_users, k, comm.size(),
             model);
  fmt::print("prompts of {:.0f} tokens on average, {:.0f} % of them in the shared prefix (rank 0)\n",
             row["mean_prompt_tokens"].get<double>(), 100.0 * row["shared_prefix_share_rank0"].get<double>());
  fmt::print("shared history prefix {:.3f} s, independent forwards {:.3f} s: {:.2f}x; max |score difference| {:.2e}\n",
             median(shared_s), median(separate_s), median(separate_s) / median(shared_s),
             max_difference.item<double>());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_mpi_benchmark(argc, argv, "bench_ranker_permutations", run); }
