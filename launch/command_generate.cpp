// `llamarec generate`: greedy text from a Hugging Face Llama directory (rank 0 only; no config file).
#include <spdlog/spdlog.h>

#include <iostream>

#include "launch/commands.h"
#include "core/cpu_runtime.h"
#include "pipelines/generate.h"

namespace llamarec {

void register_generate_command(CLI::App& app, CommandRegistry& registry) {
  auto* command = app.add_subcommand("generate", "greedy text generation with a Hugging Face Llama checkpoint");
  struct Options {
    std::string model_dir;
    std::string prompt;
    int64_t threads = 0;
    GenerateOptions generate;
  };
  auto o = std::make_shared<Options>();
  command->add_option("--model", o->model_dir, "model directory (config.json, *.safetensors, tokenizer.model)")
      ->required()
      ->check(CLI::ExistingDirectory);
  command->add_option("--prompt", o->prompt, "text to continue (default: empty, i.e. BOS only)");
  command->add_option("--max-new-tokens", o->generate.max_new_tokens, "tokens to generate")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  command->add_option("--dtype", o->generate.dtype, "compute dtype")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
  command->add_option("--device", o->generate.device, "cpu, cuda or auto")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  command->add_option("--tokenizer", o->generate.tokenizer, "tokenizer.model (default: <model>/tokenizer.model)")
      ->check(CLI::ExistingFile);
  command->add_option("--adapter", o->generate.adapter, "PEFT LoRA adapter directory, merged before generating")
      ->check(CLI::ExistingDirectory);
  command->add_flag("!--no-bos", o->generate.add_bos, "do not start the prompt with BOS");
  command->add_flag("!--ignore-eos", o->generate.stop_at_eos, "keep generating after EOS");
  command->add_option("--threads", o->threads, "LibTorch threads (0: all cores)");
  registry.add(command, [o](const MpiContext& mpi) {
    if (mpi.rank() != 0) return 0;  // generation is single-process; extra ranks have nothing to do
    if (o->threads > 0) set_cpu_threads(static_cast<int>(o->threads));
    keep_freed_memory();
    const auto result = generate(o->model_dir, o->prompt, o->generate);
    std::cout << result.text << std::endl;
    return 0;
  });
}

}  // namespace llamarec
