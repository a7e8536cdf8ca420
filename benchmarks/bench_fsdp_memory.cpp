// Base-weight memory per rank of a Llama-2-7B-shaped sharded ranker, bf16 against nf4 (QLoRA), at
// whatever world size mpirun gives: the shards ShardedLlama allocates (weights left at zero: the
// shapes are what counts, so no 13 GB checkpoint is needed), the bytes one decoder layer's gather
// receives and its time (all-gather + dequantization into bf16, on this CPU), against the theory:
//   bf16: 2 bytes per parameter; nf4: 0.5 + 1/64 + 8/16384 bytes per projection value (codes,
//   int8 absmax per 64, fp32 scale and offset per 16,384), embedding/head/norms in bf16.
//   build/benchmarks/bench_fsdp_memory [out.json] [quantization=none|nf4]   (always bf16 compute)
//   mpirun -np 4 --oversubscribe build/benchmarks/bench_fsdp_memory [out.json] quantization=nf4
// Each (ranks, storage) keeps one row.
#include <fmt/format.h>
#include <mpi.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "benchmarks/support/fsdp_bench_options.h"
#include "benchmarks/support/results_file.h"
#include "core/cpu_runtime.h"
#include "distributed/fsdp_llama.h"
#include "distributed/mpi_communicator.h"
#include "distributed/mpi_context.h"
#include "models/llama_model.h"

using namespace llamarec;

namespace {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

double max_over_ranks(double value) {
  MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  MpiContext mpi(&argc, &argv);
  MpiCommunicator comm;
  const auto options = parse_fsdp_bench_options(argc, argv, "benchmarks/results/fsdp_memory.json", comm.rank());
  if (!options) return 2;
  const std::string& out_path = options->out_path;
  const auto quantization = options->quantization;
  const bool nf4 = quantization == WeightQuantization::kNf4;
  set_cpu_threads(1);
  LlamaConfig c;  // meta-llama/Llama-2-7b-hf
  c.vocab_size = 32000;
  c.hidden_size = 4096;
  c.intermediate_size = 11008;
  c.num_hidden_layers = 32;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 32;
  c.max_position_embeddings = 4096;
  const double rss_before = peak_rss_mb();
  ShardedLlama model(c, comm, torch::kBFloat16, torch::kCPU, true, quantization);
  const double resident = max_over_ranks(static_cast<double>(model.resident_base_bytes()));
  const double rss_after = max_over_ranks(peak_rss_mb());

  // Theory, from the shapes alone.
  const int64_t n = comm.size();
  const double d = c.hidden_size, f = c.intermediate_size, v = c.vocab_size, layers = c.num_hidden_layers;
  const double projections = 4 * d * d + 3 * d * f, norms = 2 * d, root = 2 * v * d + d;
  const double per_value = nf4 ? 0.5 + 1.0 / 64 + 8.0 / 16384 : 2.0;
  const double theory_resident = (layers * (projections * per_value + norms * 2) + root * 2) / n;
  const double theory_layer_received = (n - 1.0) / n * (projections * per_value + norms * 2);

  // One layer's gather (forward: all-gather, then dequantization into bf16 for nf4).
  comm.barrier();
  const auto t0 = std::chrono::steady_clock::now();
  auto& layer = model.layer_unit(0);
  layer.gather();
  const double gather_s = max_over_ranks(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  layer.release();
  const double received = static_cast<double>(layer.stats().bytes_received);
  const double rss_peak = max_over_ranks(peak_rss_mb());

  if (comm.rank() == 0) {
    const std::string storage = nf4 ? "nf4" : "bf16";
    fmt::print("Llama-2-7B-shaped base ({:.2f}B parameters), {} over {} rank(s), 1 thread/rank\n",
               llama_parameter_count(c) / 1e9, storage, n);
    fmt::print("{:>5} {:>6} {:>14} {:>11} {:>17} {:>11} {:>12} {:>14} {:>12}\n", "ranks", "base", "resident GB",
               "theory GB", "layer recv MB", "theory MB", "gather s", "RSS shards MB", "peak RSS MB");
    fmt::print("{:>5} {:>6} {:>14.3f} {:>11.3f} {:>17.1f} {:>11.1f} {:>12.3f} {:>14.0f} {:>12.0f}\n", n, storage,
               resident / 1e9, theory_resident / 1e9, received / 1e6, theory_layer_received / 1e6, gather_s,
               rss_after - rss_before, rss_peak);
    auto all = read_results(out_path, "fsdp_memory");
    const nlohmann::json row = {{"ranks", n},
                                {"storage", storage},
                                {"parameters", llama_parameter_count(c)},
                                {"resident_base_bytes_per_rank", resident},
                                {"theory_resident_bytes_per_rank", theory_resident},
                                {"layer_gather_bytes_received", received},
                                {"theory_layer_gather_bytes_received", theory_layer_received},
                                {"layer_gather_seconds_cpu", gather_s},
                                {"rss_of_shards_mb_max_rank", rss_after - rss_before},
                                {"peak_rss_mb_max_rank", rss_peak}};
    replace_row(all["runs"], row, {"ranks", "storage"});
    write_results(out_path, all);
    fmt::print("wrote {}\n", out_path);
  }
  return 0;
}
