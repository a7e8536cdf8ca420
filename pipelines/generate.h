// `llamarec generate`: greedy text generation from a Hugging Face Llama directory (config.json,
// *.safetensors, tokenizer.model), optionally with a PEFT LoRA adapter. The generation baseline of
// the paper's efficiency comparison and an end-to-end check of loader, model and tokenizer.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace llamarec {

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  std::string dtype = "float32";  // float32, bfloat16 or float16 (the model's compute dtype)
  std::string device = "cpu";     // cpu, cuda or auto
  std::string tokenizer;          // default: <model_dir>/tokenizer.model
  std::string adapter;            // a PEFT adapter directory to apply (merged), or empty
  bool add_bos = true;
  bool stop_at_eos = true;
};

struct GenerateResult {
  std::string text;        // prompt and continuation, decoded together (as llama2.c prints them)
  std::string completion;  // the continuation alone
  std::vector<int64_t> prompt_ids;
  std::vector<int64_t> new_ids;
  double load_seconds = 0.0;
  double generate_seconds = 0.0;   // prefill + decoding
  double tokens_per_second = 0.0;  // new tokens / generate_seconds
};

GenerateResult generate(const std::string& model_dir, const std::string& prompt, const GenerateOptions& options);

// The decoded prompt + greedy continuation of up to `max_new_tokens` tokens.
std::string generate_text(const std::string& model_dir, const std::string& prompt, int64_t max_new_tokens,
                          const GenerateOptions& options = {});

}  // namespace llamarec
