#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/llama_generate.h"
#include "models/llama_model.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::TempDir;

LlamaConfig tiny_config() {
  LlamaConfig c;
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.rms_norm_eps = 1e-5;
  c.tie_word_embeddings = false;
  return c;
}

LlamaForCausalLM tiny_model(uint64_t seed = 7, torch::Dtype dtype = torch::kFloat32) {
  LlamaForCausalLM model(tiny_config(), torch::TensorOptions().dtype(dtype));
  init_llama_random(*model, seed, 0.2);  // larger than HF's 0.02 so attention is far from uniform
  model->eval();
  return model;
}

torch::Tensor ids(std::vector<int64_t> v) { return torch::tensor(v, torch::kInt64).unsqueeze(0); }

TEST(LlamaModel, KvCacheStepsMatchTheFullSequence) {
  torch::NoGradGuard no_grad;
  auto model = tiny_model();
  auto input = ids({1, 5, 9, 13, 2, 44, 17, 8});
  auto full = model->forward(input);  // [1, 8, V]
  KVCache cache(2);
  auto prefill = model->forward(input.slice(1, 0, 3), {}, &cache);
  EXPECT_EQ(cache.length(), 3);
  std::vector<torch::Tensor> parts = {prefill};
  for (int64_t t = 3; t < 8; ++t) parts.push_back(model->forward(input.slice(1, t, t + 1), {}, &cache));
  EXPECT_EQ(cache.length(), 8);
  auto incremental = torch::cat(parts, 1);
  EXPECT_LT((incremental - full).abs().max().item<float>(), 1e-5);
}

TEST(LlamaModel, LeftPaddedBatchMatchesUnpaddedRows) {
  torch::NoGradGuard no_grad;
  auto model = tiny_model();
  const std::vector<int64_t> a = {1, 7, 3, 22, 9, 4}, b = {1, 30, 11};
  const int64_t pad = 3;
  auto batch = torch::tensor({1, 7, 3, 22, 9, 4, 0, 0, 0, 1, 30, 11}, torch::kInt64).view({2, 6});
  auto mask = torch::tensor({1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1}, torch::kInt64).view({2, 6});
  auto padded = model->forward(batch, mask);  // positions from the mask
  auto row_a = model->forward(ids(a));
  auto row_b = model->forward(ids(b));
  EXPECT_LT((padded[0] - row_a[0]).abs().max().item<float>(), 1e-5);
  EXPECT_LT((padded[1].slice(0, pad) - row_b[0]).abs().max().item<float>(), 1e-5);

  // HF 4.33 / LlamaRec fidelity: positions 0..5 for every row, so the padded row's real tokens sit
  // at positions 3..5, exactly as the unpadded row run at those positions.
  auto arange = model->forward(batch, mask, nullptr, PositionMode::kArange);
  auto shifted = model->lm_head_at(
      model->forward_hidden(ids(b), {}, nullptr, PositionMode::kFromMask, torch::tensor({{3, 4, 5}}, torch::kInt64)));
  EXPECT_LT((arange[1].slice(0, pad) - shifted[0]).abs().max().item<float>(), 1e-5);
  // RoPE scores depend on relative positions only, so the shift changes nothing beyond rounding.
  EXPECT_LT((arange[1].slice(0, pad) - row_b[0]).abs().max().item<float>(), 1e-4);
  EXPECT_LT((arange[0] - row_a[0]).abs().max().item<float>(), 1e-5);
}

TEST(LlamaModel, LeftPaddedBatchWithCacheMatchesFullForward) {
  torch::NoGradGuard no_grad;
  auto model = tiny_model();
  auto batch = torch::tensor({0, 0, 1, 5, 6, 7, 1, 2, 3, 4, 5, 6}, torch::kInt64).view({2, 6});
  auto mask = torch::tensor({0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, torch::kInt64).view({2, 6});
  auto full = model->forward(batch, mask);
  KVCache cache(2);
  auto first = model->forward(batch.slice(1, 0, 4), mask.slice(1, 0, 4), &cache);
  auto second = model->forward(batch.slice(1, 4, 5), mask.slice(1, 0, 5), &cache);
  auto third = model->forward(batch.slice(1, 5, 6), mask, &cache);
  auto steps = torch::cat({first, second, third}, 1);
  // Pad positions are garbage by design; compare real tokens only.
  auto real = mask.to(torch::kBool).unsqueeze(-1).expand_as(full);
  EXPECT_LT((steps - full).masked_select(real).abs().max().item<float>(), 1e-5);
}

TEST(LlamaModel, LmHeadAtSelectedRowsEqualsFullLogits) {
  torch::NoGradGuard no_grad;
  auto model = tiny_model();
  auto input = torch::randint(0, 50, {3, 5}, torch::kInt64);
  auto hidden = model->forward_hidden(input);  // [3, 5, D]
  ASSERT_EQ(hidden.sizes(), (std::vector<int64_t>{3, 5, 32}));
  auto last = model->lm_head_at(hidden.select(1, -1));  // [3, V]
  auto full = model->forward(input);
  EXPECT_TRUE(torch::allclose(last, full.select(1, -1), 1e-6, 1e-6));
  // Closed form of the head: rows of lm_head.weight dotted with the hidden state.
  auto rows = model->lm_head_weight().index_select(0, torch::tensor({3, 17}));
  EXPECT_TRUE(torch::allclose(torch::matmul(hidden.select(1, -1), rows.t()),
                              last.index_select(1, torch::tensor({3, 17})), 1e-5, 1e-5));
}

TEST(LlamaModel, LayerRunsOnExternallyProvidedWeights) {
  torch::NoGradGuard no_grad;
  auto model = tiny_model();
  const auto c = model->config();
  auto layer = model->model->layer(1);
  // Copies in one flat buffer, as an FSDP unit would gather them, viewed back into a LayerWeights.
  LayerWeights external = layer->weights();
  auto slots = external.base_tensors();
  const auto specs = llama_layer_tensor_specs(c);
  ASSERT_EQ(slots.size(), specs.size());
  std::vector<torch::Tensor> flat_parts;
  for (size_t i = 0; i < slots.size(); ++i) {
    ASSERT_EQ(slots[i].first, specs[i].name);
    ASSERT_EQ(slots[i].second->sizes().vec(), specs[i].shape);
    flat_parts.push_back(slots[i].second->flatten());
  }
  auto flat = torch::cat(flat_parts).clone();
  int64_t offset = 0;
  for (auto& [name, slot] : slots) {
    const auto n = slot->numel();
    *slot = flat.slice(0, offset, offset + n).view(slot->sizes());
    offset += n;
  }
  auto hidden = torch::randn({2, 4, c.hidden_size});
  auto ctx =
      make_layer_context(c, {}, {}, PositionMode::kFromMask, 2, 0, 4, torch::kFloat32, torch::kCPU, nullptr, false);
  EXPECT_TRUE(torch::allclose(decoder_layer_forward(external, hidden, ctx), layer->forward(hidden, ctx)));
}

TEST(LlamaModel, SavedCheckpointLoadsBackAndIsValidated) {
  TempDir dir;
  auto model = tiny_model(11);
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& p : model->named_parameters()) tensors[p.key()] = p.value();
  // Sharded like HF: the lm_head in a second file.
  auto head = tensors.extract("lm_head.weight");
  save_safetensors((dir / "model-00001-of-00002.safetensors").string(), tensors);
  save_safetensors((dir / "model-00002-of-00002.safetensors").string(), {{"lm_head.weight", head.mapped()}});
  nlohmann::json index = {{"weight_map", nlohmann::json::object()}};
  for (const auto& [name, t] : tensors) index["weight_map"][name] = "model-00001-of-00002.safetensors";
  index["weight_map"]["lm_head.weight"] = "model-00002-of-00002.safetensors";
  ::llamarec::testing::write_text(dir / "model.safetensors.index.json", index.dump());
  ::llamarec::testing::write_text(dir / "config.json", llama_config_to_json(tiny_config()).dump());

  torch::NoGradGuard no_grad;
  auto input = ids({1, 4, 9, 16, 25});
  auto loaded = load_llama(dir.path().string());
  EXPECT_TRUE(torch::equal(loaded->forward(input), model->forward(input)));
  auto bf16 = load_llama(dir.path().string(), torch::kBFloat16);
  EXPECT_EQ(bf16->lm_head_weight().scalar_type(), torch::kBFloat16);

  // A checkpoint for another shape is rejected, naming the tensor.
  auto other = tiny_config();
  other.intermediate_size = 40;
  LlamaForCausalLM wrong(other);
  try {
    load_llama_weights(*wrong, SafetensorsCheckpoint(dir.path().string()));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.gate_proj.weight' has shape [48, 32]"), std::string::npos)
        << e.what();
  }
}

TEST(LlamaModel, GreedyGenerateEqualsArgmaxOfFullForward) {
  torch::NoGradGuard no_grad;
  auto model = tiny_model(3);
  std::vector<int64_t> seq = {1, 12, 30};
  const auto generated = greedy_generate(*model, seq, 6, -1);
  ASSERT_EQ(generated.size(), 6u);
  for (auto next : generated) {
    auto logits = model->forward(torch::tensor(seq, torch::kInt64).unsqueeze(0));
    EXPECT_EQ(logits[0][-1].argmax().item<int64_t>(), next);
    seq.push_back(next);
  }
  // Stops right after the first occurrence of the stop id.
  const auto stop = generated[4];
  const auto first = std::find(generated.begin(), generated.end(), stop);
  const std::vector<int64_t> expected(generated.begin(), first + 1);
  EXPECT_EQ(greedy_generate(*model, {1, 12, 30}, 6, stop), expected);
}

TEST(LlamaModel, Bfloat16ForwardTracksFloat32) {
  torch::NoGradGuard no_grad;
  auto f32 = tiny_model(5);
  auto b16 = tiny_model(5, torch::kBFloat16);
  auto input = ids({1, 3, 5, 7, 9, 11});
  auto a = f32->forward(input);
  auto b = b16->forward(input).to(torch::kFloat32);
  EXPECT_EQ(b16->forward_hidden(input).scalar_type(), torch::kBFloat16);
  const float scale = a.abs().max().item<float>();
  EXPECT_LT((a - b).abs().max().item<float>(), 0.05 * scale);
}

TEST(LlamaModel, BackwardReachesEveryParameter) {
  auto model = tiny_model();
  model->train();
  auto input = torch::randint(0, 50, {2, 6}, torch::kInt64);
  auto logits = model->forward(input);
  torch::nn::functional::cross_entropy(logits.reshape({-1, 50}), torch::randint(0, 50, {12}, torch::kInt64)).backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<float>(), 0.0f) << p.key();
  }
}

}  // namespace
}  // namespace llamarec
