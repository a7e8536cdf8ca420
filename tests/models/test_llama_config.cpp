#include <gtest/gtest.h>

#include "core/error.h"
#include "models/llama_config.h"
#include "models/llama_model.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

// meta-llama/Llama-2-7b-hf config.json (the keys that matter).
constexpr const char* kLlama2_7B = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 11008,
  "max_position_embeddings": 4096, "num_attention_heads": 32, "num_hidden_layers": 32,
  "num_key_value_heads": 32, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null,
  "tie_word_embeddings": false, "torch_dtype": "float16", "transformers_version": "4.31.0.dev0",
  "use_cache": true, "vocab_size": 32000})";

LlamaConfig tiny_config(bool tied) {
  LlamaConfig c;
  c.vocab_size = 37;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.tie_word_embeddings = tied;
  return c;
}

std::string error_of(const std::string& json_text) {
  return testing::error_of([&] { llama_config_from_json(nlohmann::json::parse(json_text), "cfg.json"); });
}

TEST(LlamaConfig, Llama2_7BHas6738415616Parameters) {
  const auto c = llama_config_from_json(nlohmann::json::parse(kLlama2_7B), "7b");
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.num_key_value_heads, 32);
  EXPECT_EQ(c.head_dim(), 128);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_FALSE(c.tie_word_embeddings);
  // distributed-notes §4.2: 4·d² + 3·d·11008 + 2d per layer, 32000·4096 each for embedding and lm_head.
  int64_t layer = 0;
  for (const auto& spec : llama_layer_tensor_specs(c)) {
    int64_t n = 1;
    for (auto d : spec.shape) n *= d;
    layer += n;
  }
  EXPECT_EQ(layer, 4LL * 4096 * 4096 + 3LL * 4096 * 11008 + 2 * 4096);
  EXPECT_EQ(layer, 202383360);
  EXPECT_EQ(llama_parameter_count(c), 6738415616LL);
  const auto specs = llama_tensor_specs(c);
  EXPECT_EQ(specs.size(), 1u + 32 * 9 + 2);
  EXPECT_EQ(specs.front().name, "model.embed_tokens.weight");
  EXPECT_EQ(specs.back().name, "lm_head.weight");
  EXPECT_EQ(specs[1].name, "model.layers.0.input_layernorm.weight");
}

TEST(LlamaConfig, Stories260KConfig) {
  LLAMAREC_REQUIRE_SHARED("models/stories260K-hf/config.json");
  const auto c = load_llama_config(shared_path.parent_path().string());
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_TRUE(c.tie_word_embeddings);
  const int64_t d = 64, kv = 4 * 8, f = 172;
  EXPECT_EQ(llama_parameter_count(c), 512 * d + 5 * (2 * d + 2 * d * d + 2 * kv * d + 3 * d * f) + d);
}

TEST(LlamaConfig, DefaultsAndRoundTrip) {
  const auto c = llama_config_from_json(
      nlohmann::json::parse(R"({"hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 40,
                                "num_hidden_layers": 1, "vocab_size": 10})"),
      "cfg");
  EXPECT_EQ(c.num_key_value_heads, 4);  // defaults to the number of heads, as in HF
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  const auto back = llama_config_from_json(llama_config_to_json(c), "again");
  EXPECT_EQ(llama_tensor_specs(back).size(), llama_tensor_specs(c).size());
  EXPECT_EQ(llama_parameter_count(back), llama_parameter_count(c));
}

TEST(LlamaConfig, ReadsTransformers5RopeParameters) {
  const auto c = llama_config_from_json(
      nlohmann::json::parse(R"({"hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 40,
                                "num_hidden_layers": 1, "vocab_size": 10,
                                "rope_parameters": {"rope_theta": 500000.0, "rope_type": "default"}})"),
      "cfg");
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_NE(error_of(R"({"rope_parameters": {"rope_theta": 1e4, "rope_type": "yarn"}})").find("rope_type 'yarn'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"rope_parameters": 3})").find("rope_parameters must be an object"), std::string::npos);
}

TEST(LlamaConfig, RejectsUnsupportedOrInconsistentConfigs) {
  EXPECT_NE(error_of(R"({"hidden_size": 30, "num_attention_heads": 4})").find("not divisible"), std::string::npos);
  EXPECT_NE(error_of(R"({"num_attention_heads": 32, "num_key_value_heads": 5})").find("num_key_value_heads 5"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"rope_scaling": {"type": "linear", "factor": 2.0}})").find("rope_scaling"), std::string::npos);
  EXPECT_NE(error_of(R"({"hidden_act": "gelu"})").find("hidden_act 'gelu'"), std::string::npos);
  EXPECT_NE(error_of(R"({"attention_bias": true})").find("attention_bias"), std::string::npos);
  EXPECT_NE(error_of(R"({"hidden_size": "big"})").find("key 'hidden_size' has the wrong type"), std::string::npos);
  EXPECT_NE(error_of(R"({"eos_token_id": 2.7e74})").find("key 'eos_token_id' has the wrong type or is out of range"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"model_type": "mistral"})").find("model_type"), std::string::npos);
  EXPECT_NE(error_of(R"({"vocab_size": 0})").find("cfg.json: vocab_size must be positive"), std::string::npos);
}

TEST(LlamaConfig, ModuleParametersMatchTheSpecList) {
  for (bool tied : {true, false}) {
    const auto c = tiny_config(tied);
    LlamaForCausalLM model(c);
    const auto specs = llama_tensor_specs(c);
    std::map<std::string, std::vector<int64_t>> params;
    for (const auto& p : model->named_parameters()) params[p.key()] = p.value().sizes().vec();
    ASSERT_EQ(params.size(), specs.size()) << "tied " << tied;
    int64_t total = 0;
    for (const auto& spec : specs) {
      ASSERT_TRUE(params.count(spec.name)) << spec.name;
      EXPECT_EQ(params[spec.name], spec.shape) << spec.name;
      total += model->named_parameters()[spec.name].numel();
    }
    EXPECT_EQ(total, llama_parameter_count(c));
  }
}

}  // namespace
}  // namespace llamarec
