// Llama forward and forward+backward throughput on the CPU: stories260K (real weights, if present)
// and a ~110M-parameter random Llama, in float32 and bfloat16. Achieved GFLOP/s (model FLOPs) is set
// against a GEMM measured in the same run and dtype, giving a CPU MFU.
// Usage: bench_llama [out.json] [stories260K dir]
//   (defaults: benchmarks/results/llama_cpu.json; $LLAMAREC_SHARED_DIR or ../shared, models/stories260K-hf)
// Threads: $OMP_NUM_THREADS if set, else all cores.
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/cpu_affinity.h"
#include "core/cpu_runtime.h"
#include "models/llama_model.h"

namespace {

using namespace llamarec;
namespace fs = std::filesystem;

struct Timing {
  double median = 0;  // seconds
  double min = 0;     // least disturbed repetition (other processes share this machine)
};

Timing time_it(const std::function<void()>& fn, int reps) {
  fn();  // warm-up: allocator, oneDNN primitive caches
  std::vector<double> s;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(s.begin(), s.end());
  return {s[s.size() / 2], s.front()};
}

// GEMM GFLOP/s for an n x n x n matmul: the machine's attainable matrix rate in this dtype.
double gemm_gflops(torch::Dtype dtype, int64_t n) {
  auto a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
  torch::Tensor c;
  const auto t = time_it([&] { c = torch::mm(a, b); }, 5);
  return 2.0 * n * n * n / t.min / 1e9;
}

// Model FLOPs per token of one forward: 2 per multiply-add of every projection and the lm_head,
// plus QKᵀ and PV over all `seq` keys (the explicit 1.13 kernel computes the full square).
double forward_flops_per_token(const LlamaConfig& c, int64_t seq) {
  const double d = c.hidden_size, kv = c.num_key_value_heads * c.head_dim(), f = c.intermediate_size;
  const double matmul_params = c.num_hidden_layers * (2 * d * d + 2 * d * kv + 3 * d * f) + c.vocab_size * d;
  return 2 * matmul_params + c.num_hidden_layers * 4.0 * seq * d;
}

fs::path find_stories(int argc, char** argv) {
  if (argc > 2) return argv[2];
  std::vector<fs::path> roots;
  if (const char* env = std::getenv("LLAMAREC_SHARED_DIR")) roots.emplace_back(env);
  roots.emplace_back("../shared");
  roots.emplace_back("shared");
  for (const auto& root : roots) {
    const auto dir = root / "models" / "stories260K-hf";
    if (fs::exists(dir / "config.json")) return dir;
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string out_path = argc > 1 ? argv[1] : "benchmarks/results/llama_cpu.json";
  set_cpu_threads(standalone_threads());
  torch::manual_seed(0);

  struct ModelCase {
    std::string name;
    LlamaConfig config;
    fs::path dir;  // empty: random weights
    int64_t batch, seq;
  };
  std::vector<ModelCase> cases;
  if (const auto stories = find_stories(argc, argv); !stories.empty()) {
    cases.push_back({"stories260K", load_llama_config(stories.string()), stories, 8, 256});
  } else {
    fmt::print("stories260K not found (pass its directory as the second argument); skipping it\n");
  }
  LlamaConfig random;  // ~110M parameters: GPT-2-small widths with Llama blocks and Llama 2's vocabulary
  random.vocab_size = 32000;
  random.hidden_size = 768;
  random.intermediate_size = 2048;
  random.num_hidden_layers = 12;
  random.num_attention_heads = 12;
  random.num_key_value_heads = 12;
  random.max_position_embeddings = 2048;
  random.rms_norm_eps = 1e-5;
  random.tie_word_embeddings = true;
  cases.push_back({"llama-110M-random", random, {}, 4, 128});

  nlohmann::json report = {{"benchmark", "llama_cpu"},
                           {"torch_threads", at::get_num_threads()},
                           {"gemm", nlohmann::json::array()},
                           {"runs", nlohmann::json::array()}};
  std::map<torch::Dtype, double> gemm;
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    gemm[dtype] = gemm_gflops(dtype, 1024);
    report["gemm"].push_back({{"dtype", c10::toString(dtype)}, {"n", 1024}, {"gflops", gemm[dtype]}});
  }

  fmt::print("threads {}; GEMM 1024^3: float32 {:.1f} GFLOP/s, bfloat16 {:.1f} GFLOP/s\n", at::get_num_threads(),
             gemm[torch::kFloat32], gemm[torch::kBFloat16]);
  fmt::print("{:<18} {:>8} {:>9} {:>6} {:<17} {:>11} {:>11} {:>9} {:>7}\n", "model", "params", "dtype", "B x L", "mode",
             "tok/s", "tok/s(best)", "GFLOP/s", "MFU");
  for (const auto& mc : cases) {
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
      LlamaForCausalLM model = mc.dir.empty() ? LlamaForCausalLM(mc.config, torch::TensorOptions().dtype(dtype))
                                              : load_llama(mc.dir.string(), dtype);
      if (mc.dir.empty()) init_llama_random(*model, 1);
      const auto input = torch::randint(0, mc.config.vocab_size, {mc.batch, mc.seq}, torch::kInt64);
      const auto target = torch::randint(0, mc.config.vocab_size, {mc.batch * mc.seq}, torch::kInt64);
      const double tokens = static_cast<double>(mc.batch * mc.seq);
      const double fwd_flops = forward_flops_per_token(mc.config, mc.seq);
      const int reps = mc.dir.empty() ? 2 : 5;

      struct Mode {
        std::string name;
        double flops_per_token;
        std::function<void()> fn;
      };
      std::vector<Mode> modes = {
          {"forward", fwd_flops,
           [&] {
             torch::NoGradGuard no_grad;
             model->eval();
             model->forward(input);
           }},
          {"forward+backward", 3 * fwd_flops,  // backward = grads w.r.t. activations and weights
           [&] {
             model->train();
             model->zero_grad();
             auto logits = model->forward(input).to(torch::kFloat32);
             torch::nn::functional::cross_entropy(logits.view({-1, mc.config.vocab_size}), target).backward();
           }},
      };
      for (const auto& mode : modes) {
        const auto t = time_it(mode.fn, reps);
        const double tps = tokens / t.median, best = tokens / t.min;
        const double gflops = mode.flops_per_token * tps / 1e9;
        const double mfu = gflops / gemm[dtype];
        fmt::print("{:<18} {:>7.1f}M {:>9} {:>2}x{:<3} {:<17} {:>11.0f} {:>11.0f} {:>9.1f} {:>6.1f}%\n", mc.name,
                   llama_parameter_count(mc.config) / 1e6, c10::toString(dtype), mc.batch, mc.seq, mode.name, tps, best,
                   gflops, 100 * mfu);
        report["runs"].push_back({{"model", mc.name},
                                  {"parameters", llama_parameter_count(mc.config)},
                                  {"dtype", c10::toString(dtype)},
                                  {"batch", mc.batch},
                                  {"seq", mc.seq},
                                  {"mode", mode.name},
                                  {"seconds_median", t.median},
                                  {"seconds_min", t.min},
                                  {"tokens_per_second", tps},
                                  {"tokens_per_second_best", best},
                                  {"gflop_per_token", mode.flops_per_token / 1e9},
                                  {"gflops", gflops},
                                  {"mfu_vs_gemm", mfu}});
      }
    }
  }
  const fs::path out(out_path);
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  std::ofstream(out) << report.dump(2) << "\n";
  fmt::print("wrote {}\n", out.string());
  return 0;
}
