// One FSDP-sharded LoRA training step (the ranker's: forward, label-only loss at 2 positions per
// sequence, recomputing backward, one flat LoRA all-reduce, AdamW) on a random Llama, timed, with
// the bytes each rank received in all-gathers against the theory for this scheme, and per-rank
// memory (resident base shards, peak RSS). Run under mpirun with 1, 2, ... ranks; every (world size,
// storage) keeps one row in the JSON file.
//   build/benchmarks/bench_fsdp_step [out.json] [quantization=none|nf4] [dtype=float32|bfloat16]
//   mpirun -np 2 build/benchmarks/bench_fsdp_step [out.json] [quantization=nf4]
// quantization=nf4 holds and gathers the layers' projections as NF4 codes (QLoRA) and dequantizes
// them into dtype after each gather.
// Theory: each decoder layer is gathered twice per step (forward, recompute) and the root unit three
// times (embedding, head, head recompute); each gather brings (N-1)/N of the unit. The "3x base bytes"
// of FSDP with a separate recompute pass becomes ~2x here because recompute and backward share one
// gather.
#include <fmt/format.h>
#include <mpi.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "benchmarks/support/fsdp_bench_options.h"
#include "benchmarks/support/results_file.h"
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
  const int64_t global_batch = 4, seq = 256, steps = 3;

  // Rank 0 writes the checkpoint once; every rank then reads only its slices of it.
  const fs::path dir = fs::temp_directory_path() / "llamarec_bench_fsdp_model";
  if (comm.rank() == 0 && !fs::exists(dir / "model.safetensors")) {
    LlamaForCausalLM model(c);
    init_llama_random(*model, 1);
    save_llama(*model, dir.string());
  }
  comm.barrier();
  auto model = ShardedLlama::load(dir.string(), comm, dtype, torch::kCPU, true, quantization);
  model->apply_lora(LoraConfig{}, 1);
  auto params = model->lora_parameters();
  DataParallel dp(comm, params);
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(1e-4));
  const int64_t local_batch = global_batch / comm.size();
  if (local_batch * comm.size() != global_batch) {
    if (comm.rank() == 0) fmt::print("world size must divide the global batch {}\n", global_batch);
    return 1;
  }
  auto step = [&](int64_t s) {
    auto gen = at::detail::createCPUGenerator(100 + s);
    const auto ids = at::randint(3, c.vocab_size, {global_batch, seq}, gen, torch::TensorOptions().dtype(torch::kLong))
                         .narrow(0, comm.rank() * local_batch, local_batch);
    opt.zero_grad();
    const auto hidden = model->forward_hidden(ids, {}, true);
    const auto rows = hidden.narrow(1, seq - 3, 2).reshape({-1, c.hidden_size});
    auto loss = torch::nn::functional::cross_entropy(
        model->logits(rows).to(torch::kFloat32), ids.narrow(1, seq - 2, 2).reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    loss.backward();
    dp.all_reduce_gradients(2.0 * local_batch, loss.item<double>());
    torch::nn::utils::clip_grad_norm_(params, 1.0);
    opt.step();
  };
  step(0);  // warm-up
  model->reset_stats();
  comm.barrier();
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t s = 1; s <= steps; ++s) step(s);
  comm.barrier();
  const double per_step = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;

  const auto stats = model->stats();
  const double received = static_cast<double>(stats.bytes_received) / steps;
  const int64_t n = comm.size();
  const double root_bytes = static_cast<double>(model->root_unit().gathered_bytes());
  double layer_bytes = 0;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    layer_bytes += static_cast<double>(model->layer_unit(i).gathered_bytes());
  const double theory = (n - 1.0) / n * (2 * layer_bytes + 3 * root_bytes);
  const double base = static_cast<double>(model->total_base_bytes());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double rss_mb = usage.ru_maxrss / 1024.0;
  double max_rss = rss_mb;
  MPI_Allreduce(MPI_IN_PLACE, &max_rss, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (comm.rank() == 0) {
    fmt::print(
        "FSDP LoRA step: {:.1f}M-parameter Llama, global batch {} x {} tokens, base {}, compute {}, "
        "1 thread/rank\n",
        llama_parameter_count(c) / 1e6, global_batch, seq, storage, compute);
    fmt::print("{:>5} {:>8} {:>10} {:>14} {:>14} {:>11} {:>14} {:>14} {:>12}\n", "ranks", "base", "s/step", "tokens/s",
               "MB recv/rank", "theory MB", "x base bytes", "resident MB", "peak RSS MB");
    fmt::print("{:>5} {:>8} {:>10.3f} {:>14.0f} {:>14.1f} {:>11.1f} {:>14.2f} {:>14.1f} {:>12.0f}\n", n, storage,
               per_step, global_batch * seq / per_step, received / 1e6, theory / 1e6, received / base,
               model->resident_base_bytes() / 1e6, max_rss);
    auto all = read_results(out_path, "fsdp_step");
    const nlohmann::json row = {{"ranks", n},
                                {"storage", storage},
                                {"compute", compute},
                                {"parameters", llama_parameter_count(c)},
                                {"global_batch", global_batch},
                                {"seq", seq},
                                {"seconds_per_step", per_step},
                                {"tokens_per_second", global_batch * seq / per_step},
                                {"bytes_received_per_rank_per_step", received},
                                {"bytes_theory", theory},
                                {"base_bytes", base},
                                {"received_over_base", received / base},
                                {"gathers_per_step", static_cast<double>(stats.gathers) / steps},
                                {"resident_base_bytes_per_rank", model->resident_base_bytes()},
                                {"peak_rss_mb_max_rank", max_rss}};
    replace_row(all["runs"], row, {"ranks", "storage", "compute"});
    write_results(out_path, all);
    fmt::print("wrote {}\n", out_path);
  }
  return 0;
}
