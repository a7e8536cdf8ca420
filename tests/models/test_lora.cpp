#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/safetensors.h"
#include "models/lora_apply.h"
#include "models/lora_linear.h"
#include "models/peft_adapter.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::TempDir;

LlamaConfig tiny_config() {
  LlamaConfig c;
  c.vocab_size = 40;
  c.hidden_size = 32;
  c.intermediate_size = 40;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.tie_word_embeddings = true;
  return c;
}

LlamaForCausalLM tiny_model(torch::Dtype dtype = torch::kFloat32) {
  LlamaForCausalLM model(tiny_config(), torch::TensorOptions().dtype(dtype));
  init_llama_random(*model, 21, 0.2);
  return model;
}

// B is zero after init; give every adapter non-trivial values so that the tests can see them.
void randomize_lora(LlamaForCausalLMImpl& model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (auto& t : lora_parameters(model)) t.copy_(torch::randn_like(t) * 0.3);
}

TEST(LoraLinear, InitialisationFollowsPeft) {
  torch::manual_seed(0);
  LoraLinear linear(256, 64);
  torch::nn::init::normal_(linear->weight);
  auto x = torch::randn({5, 256});
  const auto base = linear->forward(x);
  linear->enable_lora(16, 32, 0.0);
  EXPECT_EQ(linear->lora_A->weight.sizes(), (std::vector<int64_t>{16, 256}));
  EXPECT_EQ(linear->lora_B->weight.sizes(), (std::vector<int64_t>{64, 16}));
  EXPECT_EQ(linear->lora_B->weight.abs().max().item<float>(), 0.0f);
  // kaiming_uniform(a=√5) on [r, in]: U(-1/√in, 1/√in), std = 1/√(3·in).
  const double bound = 1.0 / std::sqrt(256.0);
  EXPECT_LE(linear->lora_A->weight.abs().max().item<double>(), bound);
  EXPECT_NEAR(linear->lora_A->weight.std().item<double>(), bound / std::sqrt(3.0), 0.05 * bound);
  EXPECT_TRUE(torch::allclose(linear->forward(x), base));  // B = 0: the adapter starts as a no-op
  EXPECT_THROW(linear->enable_lora(4, 8, 0.0), Error);
}

TEST(LoraLinear, ForwardClosedFormMergeAndDropout) {
  torch::manual_seed(1);
  LoraLinear linear(12, 10);
  torch::nn::init::normal_(linear->weight);
  linear->enable_lora(4, 8, 0.5);
  {
    torch::NoGradGuard no_grad;
    linear->lora_B->weight.normal_();
  }
  auto x = torch::randn({3, 12});
  linear->eval();
  const auto W = linear->weight.detach().clone(), A = linear->lora_A->weight.detach(),
             B = linear->lora_B->weight.detach();
  const auto expected = torch::matmul(x, W.t()) + 2.0 * torch::matmul(torch::matmul(x, A.t()), B.t());  // α/r = 2
  const auto unmerged = linear->forward(x).detach();
  EXPECT_TRUE(torch::allclose(unmerged, expected, 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(linear->forward(x), unmerged));  // eval: no dropout

  linear->merge();
  EXPECT_TRUE(linear->merged());
  EXPECT_TRUE(torch::allclose(linear->forward(x), unmerged, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(linear->weight, W + 2.0 * torch::matmul(B, A), 1e-6, 1e-6));
  linear->unmerge();
  EXPECT_TRUE(torch::allclose(linear->weight, W, 1e-6, 1e-6));

  // Training: dropout on the adapter's input only, so the base part is untouched.
  linear->train();
  auto trained = linear->forward(x).detach();
  EXPECT_FALSE(torch::allclose(trained, unmerged, 1e-5, 1e-5));
  torch::NoGradGuard no_grad;
  linear->lora_B->weight.zero_();
  EXPECT_TRUE(torch::allclose(linear->forward(x), torch::matmul(x, W.t()), 1e-5, 1e-5));
}

TEST(Lora, ApplyFreezesTheBaseAndTargetsByName) {
  auto model = tiny_model();
  const auto c = model->config();
  EXPECT_EQ(apply_lora(*model, LoraConfig{}), 2 * c.num_hidden_layers);
  const int64_t kv = c.num_key_value_heads * c.head_dim(), r = 8, d = c.hidden_size;
  int64_t trainable = 0;
  for (const auto& p : model->named_parameters()) {
    const bool lora = p.key().find(".lora_") != std::string::npos;
    EXPECT_EQ(p.value().requires_grad(), lora) << p.key();
    if (lora) trainable += p.value().numel();
  }
  // q_proj: r·d + d·r; v_proj: r·d + kv·r, per layer.
  EXPECT_EQ(trainable, c.num_hidden_layers * (2 * r * d + r * d + kv * r));
  const auto tensors = lora_tensors(*model);
  ASSERT_TRUE(tensors.count("model.layers.2.self_attn.v_proj.lora_B.weight"));
  EXPECT_EQ(tensors.at("model.layers.2.self_attn.v_proj.lora_B.weight").sizes(), (std::vector<int64_t>{kv, r}));
  EXPECT_FALSE(tensors.count("model.layers.0.self_attn.k_proj.lora_A.weight"));

  auto other = tiny_model();
  EXPECT_EQ(apply_lora(*other, LoraConfig{4, 8, 0.0, {"gate_proj", "up_proj", "down_proj", "o_proj"}}),
            4 * c.num_hidden_layers);
  EXPECT_THROW(apply_lora(*tiny_model(), LoraConfig{8, 32, 0.0, {"qproj"}}), Error);
  EXPECT_THROW(apply_lora(*model, LoraConfig{}), Error);  // already adapted
}

TEST(Lora, OnlyAdaptersReceiveGradients) {
  auto model = tiny_model();
  apply_lora(*model, LoraConfig{});
  randomize_lora(*model, 4);
  model->train();
  auto input = torch::randint(0, 40, {2, 7}, torch::kInt64);
  auto logits = model->forward(input);
  torch::nn::functional::cross_entropy(logits.reshape({-1, 40}), torch::randint(0, 40, {14}, torch::kInt64)).backward();
  for (const auto& p : model->named_parameters()) {
    if (p.key().find(".lora_") != std::string::npos) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<float>(), 0.0f) << p.key();
    } else {
      EXPECT_FALSE(p.value().grad().defined()) << p.key();
    }
  }
}

TEST(Lora, MergedModelEqualsUnmerged) {
  torch::NoGradGuard no_grad;
  auto model = tiny_model();
  apply_lora(*model, LoraConfig{});
  randomize_lora(*model, 5);
  model->eval();
  auto input = torch::randint(0, 40, {2, 6}, torch::kInt64);
  auto unmerged = model->forward(input);
  auto base = tiny_model()->forward(input);
  EXPECT_GT((unmerged - base).abs().max().item<float>(), 1e-2);  // the adapters do something
  merge_lora(*model);
  EXPECT_LT((model->forward(input) - unmerged).abs().max().item<float>(), 1e-4);
  unmerge_lora(*model);
  EXPECT_LT((model->forward(input) - unmerged).abs().max().item<float>(), 1e-4);
}

TEST(PeftAdapter, RoundTripInHfFormat) {
  TempDir dir;
  auto model = tiny_model();
  apply_lora(*model, LoraConfig{});
  randomize_lora(*model, 6);
  model->eval();
  save_peft_adapter(dir.path().string(), *model, "meta-llama/Llama-2-7b-hf");

  // The files as PEFT writes them.
  SafetensorsFile file((dir / "adapter_model.safetensors").string());
  EXPECT_EQ(file.names().size(), 4u * 3);
  EXPECT_TRUE(file.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
  EXPECT_TRUE(file.contains("base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight"));
  EXPECT_EQ(file.entry("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight").shape,
            (std::vector<int64_t>{8, 32}));
  EXPECT_EQ(file.metadata().at("format"), "pt");
  std::ifstream in(dir / "adapter_config.json");
  const auto json = nlohmann::json::parse(in);
  EXPECT_EQ(json["peft_type"], "LORA");
  EXPECT_EQ(json["task_type"], "CAUSAL_LM");
  EXPECT_EQ(json["r"], 8);
  EXPECT_EQ(json["lora_alpha"], 32.0);
  EXPECT_EQ(json["lora_dropout"], 0.05);
  EXPECT_EQ(json["target_modules"], nlohmann::json::array({"q_proj", "v_proj"}));
  EXPECT_EQ(json["bias"], "none");
  EXPECT_EQ(json["fan_in_fan_out"], false);
  EXPECT_EQ(json["inference_mode"], true);
  EXPECT_EQ(json["base_model_name_or_path"], "meta-llama/Llama-2-7b-hf");

  // A fresh model picks up config and weights; outputs match exactly.
  torch::NoGradGuard no_grad;
  auto fresh = tiny_model();
  fresh->eval();
  const auto config = load_peft_adapter(dir.path().string(), *fresh);
  EXPECT_EQ(config.r, 8);
  EXPECT_EQ(config.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  auto input = torch::randint(0, 40, {2, 5}, torch::kInt64);
  EXPECT_TRUE(torch::equal(fresh->forward(input), model->forward(input)));
  for (const auto& [name, t] : lora_tensors(*model)) EXPECT_TRUE(torch::equal(lora_tensors(*fresh).at(name), t));

  // A bf16 base keeps fp32 adapters.
  auto bf16 = tiny_model(torch::kBFloat16);
  load_peft_adapter(dir.path().string(), *bf16);
  EXPECT_EQ(lora_parameters(*bf16).front().scalar_type(), torch::kFloat32);
}

TEST(PeftAdapter, RejectsMismatchesAndUnsupportedConfigs) {
  TempDir dir;
  auto model = tiny_model();
  apply_lora(*model, LoraConfig{});
  save_peft_adapter(dir.path().string(), *model, "base");

  auto other = tiny_model();
  apply_lora(*other, LoraConfig{4, 32, 0.0, {"q_proj", "v_proj"}});
  EXPECT_THROW(load_peft_adapter(dir.path().string(), *other), Error);

  // A tensor missing from the file is named.
  auto tensors = load_safetensors((dir / "adapter_model.safetensors").string());
  tensors.erase("base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight");
  save_safetensors((dir / "adapter_model.safetensors").string(), tensors);
  try {
    load_peft_adapter(dir.path().string(), *tiny_model());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(
        std::string(e.what()).find("missing tensor 'base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight'"),
        std::string::npos)
        << e.what();
  }

  auto write_config = [&](const std::string& text) {
    ::llamarec::testing::write_text(dir / "adapter_config.json", text);
  };
  write_config(R"({"peft_type": "LORA", "r": 8, "target_modules": "q_proj|v_proj"})");
  EXPECT_THROW(load_peft_config(dir.path().string()), Error);
  write_config(R"({"peft_type": "PREFIX_TUNING", "r": 8, "target_modules": ["q_proj"]})");
  EXPECT_THROW(load_peft_config(dir.path().string()), Error);
  write_config(R"({"peft_type": "LORA", "r": 8, "target_modules": ["q_proj"], "bias": "all"})");
  EXPECT_THROW(load_peft_config(dir.path().string()), Error);
  write_config(R"({"peft_type": "LORA", "r": 8, "target_modules": ["q_proj"], "use_dora": true})");
  EXPECT_THROW(load_peft_config(dir.path().string()), Error);
  write_config(R"({"peft_type": "LORA", "r": 8, "target_modules": ["q_proj"], "layers_to_transform": [0]})");
  EXPECT_THROW(load_peft_config(dir.path().string()), Error);
  write_config(R"({"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj"], "rank_pattern": {}})");
  const auto ok = load_peft_config(dir.path().string());
  EXPECT_EQ(ok.alpha, 16.0);
  EXPECT_EQ(ok.dropout, 0.0);
}

}  // namespace
}  // namespace llamarec
