// Communicator (MPI backend) benchmark: per-collective cost of the descriptor check (checked minus
// unchecked), and all_reduce / all_gather / reduce_scatter times against raw MPI calls on the same
// buffers. Run under mpirun (e.g. -np 2); rank 0 prints a table and writes JSON.
// Usage: bench_communicator [out.json] (default benchmarks/results/communicator.json).
#include <fmt/format.h>
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/cpu_runtime.h"
#include "distributed/communicator.h"
#include "distributed/mpi_context.h"

#include "benchmarks/support/sample_stats.h"

namespace {

using namespace llamarec;

struct Timing {
  double median = 0;  // seconds per call
  double min = 0;     // the least disturbed repetition: the better figure on a loaded machine
};

// Seconds per call of each variant: the slowest rank's mean over `iters` calls, over `reps`
// repetitions. Variants alternate within each repetition, so that load from other processes
// (a shared CI machine) hits them alike.
std::vector<Timing> time_collectives(const std::vector<std::function<void()>>& variants, int iters, int reps = 15) {
  std::vector<std::vector<double>> samples(variants.size());
  for (const auto& fn : variants) {
    for (int i = 0; i < std::max(1, iters / 10); ++i) fn();
  }
  for (int r = 0; r < reps; ++r) {
    for (size_t v = 0; v < variants.size(); ++v) {
      MPI_Barrier(MPI_COMM_WORLD);
      const double t0 = MPI_Wtime();
      for (int i = 0; i < iters; ++i) variants[v]();
      double per_call = (MPI_Wtime() - t0) / iters;
      MPI_Allreduce(MPI_IN_PLACE, &per_call, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      samples[v].push_back(per_call);
    }
  }
  std::vector<Timing> timings;
  for (const auto& s : samples) timings.push_back({median(s), *std::min_element(s.begin(), s.end())});
  return timings;
}

}  // namespace

int main(int argc, char** argv) {
  MpiContext mpi(&argc, &argv);
  set_cpu_threads(1);
  const std::string out_path = argc > 1 ? argv[1] : "benchmarks/results/communicator.json";
  auto comm = make_communicator("mpi");
  const int size = comm->size();

  nlohmann::json rows = nlohmann::json::array();
  auto print_row = [&](const std::string& name, int64_t numel, const std::string& dtype, const Timing& t) {
    rows.push_back({{"case", name},
                    {"numel", numel},
                    {"dtype", dtype},
                    {"us_per_call_median", t.median * 1e6},
                    {"us_per_call_min", t.min * 1e6}});
    if (comm->rank() == 0) {
      fmt::print("{:<42} {:>9} {:>9} {:>12.2f} {:>12.2f}\n", name, numel, dtype, t.median * 1e6, t.min * 1e6);
    }
  };
  if (comm->rank() == 0) {
    fmt::print("MPI backend, {} ranks, 1 thread per rank; slowest rank's mean per call over 15 repetitions\n", size);
    fmt::print("{:<42} {:>9} {:>9} {:>12} {:>12}\n", "case", "numel", "dtype", "median us", "min us");
  }

  MPI_Comm raw;
  MPI_Comm_dup(MPI_COMM_WORLD, &raw);
  std::vector<Timing> overhead;
  for (int64_t numel : {int64_t{1}, int64_t{1} << 20}) {
    torch::Tensor t = torch::ones({numel});
    const auto times = time_collectives(
        {[&] { MPI_Allreduce(MPI_IN_PLACE, t.data_ptr(), static_cast<int>(numel), MPI_FLOAT, MPI_SUM, raw); },
         [&] {
           comm->set_checked(false);
           comm->all_reduce(t, ReduceOp::kSum);
         },
         [&] {
           comm->set_checked(true);
           comm->all_reduce(t, ReduceOp::kSum);
         }},
        numel == 1 ? 2000 : 10);
    print_row("MPI_Allreduce (raw)", numel, "float32", times[0]);
    print_row("all_reduce sum, unchecked", numel, "float32", times[1]);
    print_row("all_reduce sum, checked", numel, "float32", times[2]);
    overhead.push_back({(times[2].median - times[1].median) * 1e6, (times[2].min - times[1].min) * 1e6});
  }
  const auto barriers = time_collectives({[&] { MPI_Barrier(raw); }, [&] { comm->barrier(); }}, 2000);
  print_row("MPI_Barrier (raw)", 0, "-", barriers[0]);
  print_row("barrier, checked (= the check alone)", 0, "-", barriers[1]);

  const int64_t n = int64_t{1} << 20;
  torch::Tensor bf16 = torch::ones({n}, torch::kBFloat16);
  torch::Tensor avg = torch::ones({n});
  torch::Tensor shard = torch::ones({n / size});
  torch::Tensor full = torch::empty({n});
  const auto others = time_collectives(
      {[&] { comm->all_reduce(bf16, ReduceOp::kSum); }, [&] { comm->all_reduce(avg, ReduceOp::kAvg); },
       [&] { comm->all_gather(shard, full); }, [&] { comm->reduce_scatter(full, shard, ReduceOp::kSum); }},
      10);
  print_row("all_reduce sum, checked", n, "bfloat16", others[0]);
  print_row("all_reduce avg, checked", n, "float32", others[1]);
  print_row("all_gather, checked (full numel)", n, "float32", others[2]);
  print_row("reduce_scatter sum, checked (full numel)", n, "float32", others[3]);
  MPI_Comm_free(&raw);

  if (comm->rank() == 0) {
    fmt::print(
        "descriptor check overhead per collective (checked - unchecked), median/min: {:.2f}/{:.2f} us (1 "
        "element), {:.2f}/{:.2f} us (1M elements)\n",
        overhead[0].median, overhead[0].min, overhead[1].median, overhead[1].min);
    nlohmann::json result = {{"ranks", size},
                             {"rows", rows},
                             {"check_overhead_us",
                              {{"numel_1", {{"median", overhead[0].median}, {"min", overhead[0].min}}},
                               {"numel_1M", {{"median", overhead[1].median}, {"min", overhead[1].min}}}}}};
    const auto parent = std::filesystem::path(out_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    std::ofstream(out_path) << result.dump(2) << "\n";
    fmt::print("wrote {}\n", out_path);
  }
  comm.reset();
  return 0;
}
