#include "pipelines/builtin_llama.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/atomic_file.h"
#include "core/content_hash.h"
#include "core/error.h"
#include "core/tokenizer.h"
#include "core/tokenizer_trainer.h"
#include "models/llama_model.h"
#include "pipelines/ranker_prompt.h"

namespace fs = std::filesystem;

namespace llamarec {
namespace {

constexpr const char* kFingerprintFile = "llamarec_builtin.json";

// The fingerprint covers the exact text the tokenizer was trained on.
std::string corpus_digest(const std::vector<std::string>& corpus) {
  uint64_t h = kContentHashSeed;
  for (const auto& s : corpus) h = content_hash(std::string_view(s.data(), s.size() + 1), h);  // with its NUL
  return content_digest(h);
}

LlamaConfig builtin_model_config(const BuiltinLlamaConfig& b, int64_t vocab_size) {
  LlamaConfig c;
  c.vocab_size = vocab_size;
  c.hidden_size = b.hidden_size;
  c.intermediate_size = b.intermediate_size;
  c.num_hidden_layers = b.num_hidden_layers;
  c.num_attention_heads = b.num_attention_heads;
  c.num_key_value_heads = b.num_key_value_heads;
  c.max_position_embeddings = b.max_position_embeddings;
  c.rms_norm_eps = 1e-5;  // as Llama 2's checkpoints
  return c;
}

nlohmann::json fingerprint(const Config& config, const std::vector<std::string>& corpus) {
  const auto& b = config.builtin_llama;
  return {{"format", "llamarec builtin llama v1"},
          {"seed", config.run.seed},
          {"vocab_size", b.vocab_size},
          {"hidden_size", b.hidden_size},
          {"intermediate_size", b.intermediate_size},
          {"num_hidden_layers", b.num_hidden_layers},
          {"num_attention_heads", b.num_attention_heads},
          {"num_key_value_heads", b.num_key_value_heads},
          {"max_position_embeddings", b.max_position_embeddings},
          {"corpus_sentences", corpus.size()},
          {"corpus_digest", corpus_digest(corpus)}};
}

void build(const Config& config, const std::vector<std::string>& corpus, const std::string& dir) {
  const auto start = std::chrono::steady_clock::now();
  commit_directory_atomic(dir, [&](const std::string& new_dir) {
    const auto tokenizer_path = (fs::path(new_dir) / "tokenizer.model").string();
    TokenizerTrainingOptions options;
    options.vocab_size = config.builtin_llama.vocab_size;
    train_tokenizer(corpus, options, tokenizer_path);
    const Tokenizer tokenizer(tokenizer_path);
    LlamaForCausalLM model(builtin_model_config(config.builtin_llama, tokenizer.vocab_size()));
    init_llama_random(*model, static_cast<uint64_t>(config.run.seed));
    save_llama(*model, new_dir);
    write_file_atomic((fs::path(new_dir) / kFingerprintFile).string(), fingerprint(config, corpus).dump(2) + "\n");
    spdlog::info("builtin llama: {} parameters, tokenizer of {} pieces trained on {} sentences ({:.1f} s) -> {}",
                 llama_parameter_count(model->config()), tokenizer.vocab_size(), corpus.size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), dir);
  });
}

}  // namespace

std::vector<std::string> builtin_tokenizer_corpus(const Config& config, const std::vector<std::string>& titles) {
  std::vector<std::string> corpus;
  for (size_t i = 1; i < titles.size(); ++i) {
    if (!titles[i].empty()) corpus.push_back(titles[i]);
  }
  if (corpus.empty()) fail("builtin llama: the dataset has no titles to train a tokenizer on");
  // mt19937_64's sequence is fixed by the standard; `% n` keeps the draws portable.
  std::mt19937_64 rng(static_cast<uint64_t>(config.run.seed) ^ 0x6C6C616D61ULL);
  const auto n_titles = corpus.size();
  const auto random_title = [&] { return corpus[rng() % n_titles]; };
  const auto& rc = config.ranker;
  for (int64_t p = 0; p < config.builtin_llama.corpus_prompts; ++p) {
    std::vector<std::string> history(1 + rng() % static_cast<uint64_t>(rc.max_history)), pool(rc.num_candidates);
    for (auto& t : history) t = random_title();
    for (auto& t : pool) t = random_title();
    const auto answer = static_cast<char>('A' + rng() % static_cast<uint64_t>(rc.num_candidates));
    const auto text = ranker_prompt_text(kLlamaRecInstruction, history, pool) + answer;
    size_t begin = 0;
    while (begin <= text.size()) {
      const auto end = std::min(text.find('\n', begin), text.size());
      if (end > begin) corpus.push_back(text.substr(begin, end - begin));
      begin = end + 1;
    }
  }
  return corpus;
}

std::string ensure_builtin_llama(const Config& config, Communicator& comm, const std::vector<std::string>& titles) {
  const auto dir = config.in_run_dir(config.builtin_llama.dir);
  if (comm.rank() == 0) {
    const auto corpus = builtin_tokenizer_corpus(config, titles);
    const auto expected = fingerprint(config, corpus);
    const auto marker = fs::path(dir) / kFingerprintFile;
    if (fs::exists(marker)) {
      std::ifstream in(marker);
      const auto found = nlohmann::json::parse(in, nullptr, false);
      if (found != expected)
        fail(
            "{}: the built-in Llama there was built for another config or dataset ([builtin_llama], run.seed, "
            "ranker prompt or titles differ); delete {} to build it again, or set builtin_llama.dir elsewhere",
            marker.string(), dir);
      spdlog::info("builtin llama: reusing {}", dir);
    } else {
      if (fs::exists(dir) && !fs::is_empty(dir))
        fail("{}: exists but holds no {} (not a built-in Llama); delete it or set builtin_llama.dir elsewhere", dir,
             kFingerprintFile);
      build(config, corpus, dir);
    }
  }
  comm.barrier();
  return dir;
}

}  // namespace llamarec
