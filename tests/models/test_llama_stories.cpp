// Reference checks on a real pretrained model: stories260K (llama2.c's tinyllamas, converted to the
// HF layout), against llama2.c's published greedy output and float64 reference logits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/tokenizer.h"
#include "models/llama_generate.h"
#include "models/llama_model.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(LlamaStories, LogitsMatchFloat64Reference) {
  LLAMAREC_REQUIRE_SHARED("models/stories260K-hf/reference_logits.json");
  const auto ref = read_json(shared_path);
  const auto dir = shared_path.parent_path().string();
  torch::NoGradGuard no_grad;
  auto model = load_llama(dir);
  model->eval();
  const auto ids = ref["input_ids"].get<std::vector<int64_t>>();
  auto logits = model->forward(torch::tensor(ids, torch::kInt64).unsqueeze(0))[0].to(torch::kFloat64);  // [L, V]
  const auto expected_last = torch::tensor(ref["last_position_logits"].get<std::vector<double>>(), torch::kFloat64);
  EXPECT_LE((logits[-1] - expected_last).abs().max().item<double>(), 1e-4);
  const auto argmax = logits.argmax(-1);
  const auto expected_argmax = ref["argmax_per_position"].get<std::vector<int64_t>>();
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(argmax[i].item<int64_t>(), expected_argmax[i]) << "position " << i;
  const auto lse = torch::logsumexp(logits, -1);
  const auto expected_lse = torch::tensor(ref["logsumexp_per_position"].get<std::vector<double>>(), torch::kFloat64);
  EXPECT_LE((lse - expected_lse).abs().max().item<double>(), 1e-4);
}

TEST(LlamaStories, GreedyReproducesLlama2cOutput) {
  LLAMAREC_REQUIRE_SENTENCEPIECE();
  LLAMAREC_REQUIRE_SHARED("models/stories260K-hf/expected_greedy_200.txt");
  const auto dir = shared_path.parent_path();
  const auto expected = read_bytes(shared_path);
  Tokenizer tokenizer((dir / "tokenizer.model").string());
  auto model = load_llama(dir.string());
  model->eval();
  // llama2.c: 200 steps from BOS, each step samples one token (llama2.c stops early only on BOS).
  const auto generated = greedy_generate(*model, {tokenizer.bos_id()}, 200, -1);
  EXPECT_EQ(std::count(generated.begin(), generated.end(), tokenizer.bos_id()), 0);
  std::vector<int64_t> all = {tokenizer.bos_id()};
  all.insert(all.end(), generated.begin(), generated.end());
  EXPECT_EQ(tokenizer.decode(all), expected);
}

TEST(LlamaStories, KvCacheAndPaddingOnTheRealModel) {
  LLAMAREC_REQUIRE_SHARED("models/stories260K-hf/reference_logits.json");
  const auto ref = read_json(shared_path);
  torch::NoGradGuard no_grad;
  auto model = load_llama(shared_path.parent_path().string());
  model->eval();
  const auto ids = ref["input_ids"].get<std::vector<int64_t>>();
  const int64_t n = static_cast<int64_t>(ids.size());
  auto input = torch::tensor(ids, torch::kInt64).unsqueeze(0);
  auto full = model->forward(input);

  KVCache cache(model->config().num_hidden_layers);
  std::vector<torch::Tensor> parts = {model->forward(input.slice(1, 0, 10), {}, &cache)};
  for (int64_t t = 10; t < n; ++t) parts.push_back(model->forward(input.slice(1, t, t + 1), {}, &cache));
  EXPECT_LT((torch::cat(parts, 1) - full).abs().max().item<float>(), 1e-4);

  // The same prompt left-padded by 5 beside the full-length one.
  const int64_t pad = 5;
  auto shorter = input.slice(1, 0, n - pad);
  auto batch = torch::cat({input, torch::cat({torch::zeros({1, pad}, torch::kInt64), shorter}, 1)}, 0);
  auto mask = torch::ones({2, n}, torch::kInt64);
  mask[1].slice(0, 0, pad).zero_();
  auto padded = model->forward(batch, mask);
  EXPECT_LT((padded[0] - full[0]).abs().max().item<float>(), 1e-4);
  EXPECT_LT((padded[1].slice(0, pad) - full[0].slice(0, 0, n - pad)).abs().max().item<float>(), 1e-4);
}

TEST(LlamaStories, Bfloat16Smoke) {
  LLAMAREC_REQUIRE_SHARED("models/stories260K-hf/reference_logits.json");
  const auto ref = read_json(shared_path);
  torch::NoGradGuard no_grad;
  auto model = load_llama(shared_path.parent_path().string(), torch::kBFloat16);
  model->eval();
  const auto ids = ref["input_ids"].get<std::vector<int64_t>>();
  auto logits = model->forward(torch::tensor(ids, torch::kInt64).unsqueeze(0))[0].to(torch::kFloat64);
  const auto expected_last = torch::tensor(ref["last_position_logits"].get<std::vector<double>>(), torch::kFloat64);
  // bf16 keeps ~3 significant digits; the logits are O(10).
  EXPECT_LE((logits[-1] - expected_last).abs().max().item<double>(), 0.5);
  const auto expected_argmax = torch::tensor(ref["argmax_per_position"].get<std::vector<int64_t>>());
  const auto agree = (logits.argmax(-1) == expected_argmax).sum().item<int64_t>();
  EXPECT_GE(agree, static_cast<int64_t>(ids.size()) - 3);
}

}  // namespace
}  // namespace llamarec
