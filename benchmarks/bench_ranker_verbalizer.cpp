// Verbalizer ranking (one forward pass, the 20 letter logits) vs generative ranking (greedy decoding
// of the ranked candidate titles with a KV cache, as the paper's baseline: it stops once the response
// is as long as all titles together) on the same model and prompt, as the average title length grows
// (LlamaRec Fig. 3 analogue). Prompts: 20 history + 20 candidate titles of T tokens each (random ids)
// inside the LlamaRec framing. Batch 1.
// Usage: bench_ranker_verbalizer [out.json] [model dir]   (default model: a random ~25M-parameter Llama)
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/cpu_affinity.h"
#include "core/cpu_runtime.h"
#include "models/llama_generate.h"
#include "models/llama_model.h"

namespace {

using namespace llamarec;
namespace fs = std::filesystem;

double seconds(const std::function<void()>& fn, int reps) {
  fn();
  std::vector<double> s;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(s.begin(), s.end());
  return s[s.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::string out_path = argc > 1 ? argv[1] : "benchmarks/results/ranker_verbalizer.json";
  set_cpu_threads(standalone_threads());
  torch::manual_seed(0);
  std::string name = "llama-25M-random";
  LlamaForCausalLM model{nullptr};
  if (argc > 2) {
    model = load_llama(argv[2]);
    name = fs::path(argv[2]).filename().string();
  } else {
    LlamaConfig c;
    c.vocab_size = 32000;
    c.hidden_size = 384;
    c.intermediate_size = 1024;
    c.num_hidden_layers = 6;
    c.num_attention_heads = 6;
    c.num_key_value_heads = 6;
    c.max_position_embeddings = 4096;
    c.rms_norm_eps = 1e-5;
    model = LlamaForCausalLM(c);
    init_llama_random(*model, 1);
  }
  model->eval();
  torch::NoGradGuard no_grad;
  const auto& config = model->config();
  const int64_t framing = 60, candidates = 20, history = 20;
  const auto letters = torch::arange(100, 100 + candidates, torch::kLong);

  nlohmann::json report = {{"benchmark", "ranker_verbalizer"},
                           {"model", name},
                           {"threads", at::get_num_threads()},
                           {"parameters", llama_parameter_count(config)},
                           {"runs", nlohmann::json::array()}};
  fmt::print("model {} ({:.1f}M parameters), {} thread(s), batch 1\n", name, llama_parameter_count(config) / 1e6,
             at::get_num_threads());
  fmt::print("{:>11} {:>13} {:>14} {:>16} {:>17} {:>9}\n", "title tok", "prompt tok", "verbalizer s", "generated tok",
             "generation s", "speedup");
  for (const int64_t title : {5, 10, 20, 30, 40}) {
    const int64_t prompt_len = framing + (history + candidates) * (title + 4);
    const int64_t gen_len = candidates * title;  // the whole ranked list of titles
    if (prompt_len + gen_len > config.max_position_embeddings) {
      fmt::print("{:>11} skipped: {} positions exceed the model's {}\n", title, prompt_len + gen_len,
                 config.max_position_embeddings);
      continue;
    }
    auto ids = torch::randint(3, config.vocab_size, {prompt_len}, torch::kLong);
    std::vector<int64_t> prompt(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + prompt_len);
    const auto input = ids.unsqueeze(0);
    const double verb = seconds(
        [&] {
          const auto h = model->forward_hidden(input);  // [1, L, D]
          torch::linear(h.select(1, prompt_len - 1), model->lm_head_weight().index_select(0, letters));
        },
        3);
    const double gen = seconds([&] { greedy_generate(*model, prompt, gen_len, -1); }, 1);
    fmt::print("{:>11} {:>13} {:>14.3f} {:>16} {:>17.2f} {:>8.0f}x\n", title, prompt_len, verb, gen_len, gen,
               gen / verb);
    report["runs"].push_back({{"title_tokens", title},
                              {"prompt_tokens", prompt_len},
                              {"verbalizer_seconds", verb},
                              {"generated_tokens", gen_len},
                              {"generation_seconds", gen},
                              {"speedup", gen / verb}});
  }
  const fs::path out(out_path);
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  std::ofstream(out) << report.dump(2) << "\n";
  fmt::print("wrote {}\n", out.string());
  return 0;
}
