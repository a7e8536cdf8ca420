// One FSDP-sharded LoRA training step (the ranker's: forward, label-only loss at 2 positions per
// sequence, recomputing backward, one flat LoRA all-reduce, AdamW) on a random Llama, timed, with
// the bytes each rank received in all-gathers against the theory for this scheme, and per-rank
// memory (resident base shards, peak of gathered weights, peak RSS). Run under mpirun with 1, 2, ...
// ranks; every (world size, storage, compute, mode) keeps one row in the JSON file.
//   build/benchmarks/bench_fsdp_step [out.json] [quantization=none|nf4] [dtype=float32|bfloat16]
//   mpirun -np 2 build/benchmarks/bench_fsdp_step [out.json] [quantization=nf4]
// quantization=nf4 holds and gathers the layers' projections as NF4 codes (QLoRA) and dequantizes
// them into dtype after each gather.
// Three modes, their steps interleaved in one process (this shared machine drifts by 10-20 % between
// runs): sharded without prefetch, sharded with prefetch (fsdp.prefetch: each unit's gather starts
// while the unit before it computes), and replicated (fsdp.shard = false: the same step with no
// gathers, i.e. its compute). Exposed communication = a sharded mode's median step time minus the
// replicated median. Peak RSS is the process's, over all three.
#include <fmt/format.h>
#include <mpi.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <tuple>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "benchmarks/support/fsdp_bench_options.h"
#include "benchmarks/support/results_file.h"
#include "benchmarks/support/sample_stats.h"
#include "core/cpu_runtime.h"
#include "core/safetensors.h"
#include "distributed/data_parallel.h"
#include "distributed/fsdp_llama.h"
#include "distributed/mpi_communicator.h"
#include "distributed/mpi_context.h"
#include "models/llama_model.h"

using namespace llamarec;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  MpiContext mpi(&argc, &argv);
  MpiCommunicator comm;
  const auto options = parse_fsdp_bench_options(argc, argv, "benchmarks/results/fsdp_step.json", comm.rank());
  if (!options) return 2;
  const std::string out_path = options->out_path, compute = options->compute(), storage = options->storage();
  const auto quantization = options->quantization;
  const auto dtype = options->dtype;
  set_cpu_threads(1);
  LlamaConfig c;
  c.vocab_size = 8000;
  c.hidden_size = 512;
  c.intermediate_size = 1376;
  c.num_hidden_layers = 8;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 8;
  c.max_position_embeddings = 1024;
  c.rms_norm_eps = 1e-5;
  const int64_t global_batch = 4, seq = 256, steps = 5;

  // Rank 0 writes the checkpoint once; every rank then reads only its slices of it.
  const fs::path dir = fs::temp_directory_path() / "llamarec_bench_fsdp_model";
  if (comm.rank() == 0 && !fs::exists(dir / "model.safetensors")) {
    LlamaForCausalLM model(c);
    init_llama_random(*model, 1);
    save_llama(*model, dir.string());
  }
  comm.barrier();
  const int64_t local_batch = global_batch / comm.size();
  if (local_batch * comm.size() != global_batch) {
    if (comm.rank() == 0) fmt::print("world size must divide the global batch {}\n", global_batch);
    return 1;
  }
  struct Mode {
    std::string name;
    bool sharded = true;
    bool prefetch = false;
    std::unique_ptr<ShardedLlama> model;
    std::vector<torch::Tensor> params;
    std::unique_ptr<DataParallel> dp;
    std::unique_ptr<torch::optim::AdamW> opt;
    std::vector<double> seconds;
    int64_t peak_gathered = 0;
  };
  std::vector<Mode> modes;
  for (const auto& [name, sharded, prefetch] :
       {std::tuple{"no prefetch", true, false}, std::tuple{"prefetch", true, true},
        std::tuple{"replicated", false, false}}) {
    Mode m;
    m.name = name;
    m.sharded = sharded;
    m.prefetch = prefetch;
    m.model = ShardedLlama::load(dir.string(), comm, dtype, torch::kCPU, sharded, quantization);
    m.model->set_prefetch(prefetch);
    m.model->apply_lora(LoraConfig{}, 1);
    m.params = m.model->lora_parameters();
    m.dp = std::make_unique<DataParallel>(comm, m.params);
    m.opt = std::make_unique<torch::optim::AdamW>(m.params, torch::optim::AdamWOptions(1e-4));
    modes.push_back(std::move(m));
  }
  auto step = [&](Mode& m, int64_t s) {
    auto gen = at::detail::createCPUGenerator(100 + s);
    const auto ids = at::randint(3, c.vocab_size, {global_batch, seq}, gen, torch::TensorOptions().dtype(torch::kLong))
                         .narrow(0, comm.rank() * local_batch, local_batch);
    m.opt->zero_grad();
    const auto hidden = m.model->forward_hidden(ids, {}, true);
    const auto rows = hidden.narrow(1, seq - 3, 2).reshape({-1, c.hidden_size});
    auto loss = torch::nn::functional::cross_entropy(
        m.model->logits(rows).to(torch::kFloat32), ids.narrow(1, seq - 2, 2).reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    loss.backward();
    m.dp->all_reduce_gradients(2.0 * local_batch, loss.item<double>());
    torch::nn::utils::clip_grad_norm_(m.params, 1.0);
    m.opt->step();
  };
  for (auto& m : modes) {
    step(m, 0);  // warm-up
    m.model->reset_stats();
  }
  for (int64_t s = 1; s <= steps; ++s) {
    for (auto& m : modes) {
      m.model->reset_stats();
      comm.barrier();
      const auto t0 = std::chrono::steady_clock::now();
      step(m, s);
      comm.barrier();
      m.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      m.peak_gathered = std::max(m.peak_gathered, m.model->peak_gathered_bytes());
    }
  }

  const int64_t n = comm.size();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double max_rss = usage.ru_maxrss / 1024.0;
  MPI_Allreduce(MPI_IN_PLACE, &max_rss, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (comm.rank() != 0) return 0;
  fmt::print(
      "FSDP LoRA step: {:.1f}M-parameter Llama, global batch {} x {} tokens, base {}, compute {}, 1 thread/rank, "
      "median of {} interleaved steps per mode\n",
      llama_parameter_count(c) / 1e6, global_batch, seq, storage, compute, steps);
  fmt::print("{:>5} {:>8} {:>12} {:>10} {:>10} {:>14} {:>11} {:>12} {:>12} {:>16}\n", "ranks", "base", "mode", "s/step",
             "exposed s", "MB recv/rank", "theory MB", "x base bytes", "resident MB", "peak gathered MB");
  const double compute_s = median(modes.back().seconds);
  auto all = read_results(out_path, "fsdp_step");
  for (auto& m : modes) {
    const double per_step = median(m.seconds);
    // The model's gather count and bytes since its last reset_stats(): its last timed step.
    const auto stats = m.model->stats();
    const double received = static_cast<double>(stats.bytes_received);
    const double root_bytes = static_cast<double>(m.model->root_unit().gathered_bytes());
    double layer_bytes = 0;
    for (int64_t i = 0; i < c.num_hidden_layers; ++i)
      layer_bytes += static_cast<double>(m.model->layer_unit(i).gathered_bytes());
    const double theory = m.sharded ? (n - 1.0) / n * (2 * layer_bytes + 3 * root_bytes) : 0.0;
    const double base = static_cast<double>(m.model->total_base_bytes());
    const double exposed = per_step - compute_s;
    fmt::print("{:>5} {:>8} {:>12} {:>10.3f} {:>10.3f} {:>14.1f} {:>11.1f} {:>12.2f} {:>12.1f} {:>16.1f}\n", n, storage,
               m.name, per_step, exposed, received / 1e6, theory / 1e6, received / base,
               m.model->resident_base_bytes() / 1e6, m.peak_gathered / 1e6);
    nlohmann::json row = {{"ranks", n},
                          {"storage", storage},
                          {"compute", compute},
                          {"prefetch", m.prefetch},
                          {"sharded", m.sharded},
                          {"parameters", llama_parameter_count(c)},
                          {"global_batch", global_batch},
                          {"seq", seq},
                          {"steps", steps},
                          {"seconds_per_step", per_step},
                          {"seconds_per_step_each", m.seconds},
                          {"tokens_per_second", global_batch * seq / per_step},
                          {"bytes_received_per_rank_per_step", received},
                          {"bytes_theory", theory},
                          {"base_bytes", base},
                          {"received_over_base", received / base},
                          {"gathers_per_step", stats.gathers},
                          {"resident_base_bytes_per_rank", m.model->resident_base_bytes()},
                          {"peak_gathered_bytes_per_rank", m.peak_gathered},
                          {"peak_rss_mb_max_rank_all_modes", max_rss}};
    if (m.sharded) row["exposed_seconds_per_step"] = exposed;
    replace_row(all["runs"], row, {"ranks", "storage", "compute", "prefetch", "sharded"});
  }
  fmt::print("peak RSS {:.0f} MB (largest rank, the three modes' models together)\n", max_rss);
  write_results(out_path, all);
  return 0;
}
