#include "pipelines/generate.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "core/tokenizer.h"
#include "models/llama_generate.h"
#include "models/llama_model.h"
#include "models/peft_adapter.h"

namespace llamarec {

namespace {

torch::Dtype parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "fp16") return torch::kFloat16;
  fail("generate: dtype '{}' is not one of float32, bfloat16, float16", name);
}

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda" || (name == "auto" && torch::cuda::is_available())) {
    if (!torch::cuda::is_available()) fail("generate: device 'cuda' requested but CUDA is not available");
    return torch::kCUDA;
  }
  if (name == "auto") return torch::kCPU;
  fail("generate: device '{}' is not one of cpu, cuda, auto", name);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

GenerateResult generate(const std::string& model_dir, const std::string& prompt, const GenerateOptions& options) {
  if (options.max_new_tokens < 0) fail("generate: max_new_tokens must be >= 0, got {}", options.max_new_tokens);
  const auto start = std::chrono::steady_clock::now();
  const auto tokenizer_path =
      options.tokenizer.empty() ? (std::filesystem::path(model_dir) / "tokenizer.model").string() : options.tokenizer;
  Tokenizer tokenizer(tokenizer_path);
  auto model = load_llama(model_dir, parse_dtype(options.dtype), parse_device(options.device));
  model->eval();
  if (tokenizer.vocab_size() != model->config().vocab_size)
    fail("{}: tokenizer has {} pieces but {} says vocab_size {}", tokenizer_path, tokenizer.vocab_size(), model_dir,
         model->config().vocab_size);
  if (!options.adapter.empty()) {
    load_peft_adapter(options.adapter, *model);
    merge_lora(*model);
  }

  GenerateResult result;
  result.prompt_ids = tokenizer.encode(prompt, options.add_bos);
  if (result.prompt_ids.empty()) fail("generate: empty prompt without BOS gives the model nothing to start from");
  result.load_seconds = seconds_since(start);

  const auto gen_start = std::chrono::steady_clock::now();
  result.new_ids =
      greedy_generate(*model, result.prompt_ids, options.max_new_tokens, options.stop_at_eos ? tokenizer.eos_id() : -1);
  result.generate_seconds = seconds_since(gen_start);
  result.tokens_per_second =
      result.generate_seconds > 0 ? static_cast<double>(result.new_ids.size()) / result.generate_seconds : 0.0;

  // Decoding prompt and continuation together keeps the space at their junction, which decoding
  // the continuation alone would drop (SentencePiece strips a leading "▁").
  auto all = result.prompt_ids;
  all.insert(all.end(), result.new_ids.begin(), result.new_ids.end());
  result.text = tokenizer.decode(all);
  const auto head = tokenizer.decode(result.prompt_ids);
  result.completion = result.text.compare(0, head.size(), head) == 0 ? result.text.substr(head.size())
                                                                     : tokenizer.decode(result.new_ids);
  spdlog::info("generated {} tokens in {:.2f}s ({:.1f} tokens/s; loading took {:.2f}s)", result.new_ids.size(),
               result.generate_seconds, result.tokens_per_second, result.load_seconds);
  return result;
}

std::string generate_text(const std::string& model_dir, const std::string& prompt, int64_t max_new_tokens,
                          const GenerateOptions& options) {
  auto o = options;
  o.max_new_tokens = max_new_tokens;
  return generate(model_dir, prompt, o).text;
}

}  // namespace llamarec
