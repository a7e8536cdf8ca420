// FSDP units and the sharded Llama: shards and gathers, equality with the plain (unsharded)
// model in values and LoRA gradients (dropout replayed by the recompute), resident memory 1/N,
// 2-rank training = 1-rank training, and a loss that falls on a learnable task.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "core/error.h"
#include "core/safetensors.h"
#include "distributed/data_parallel.h"
#include "distributed/fsdp_llama.h"
#include "distributed/fsdp_unit.h"
#include "distributed/mpi_communicator.h"
#include "models/llama_model.h"
#include "models/lora_apply.h"
#include "models/nf4.h"
#include "tests/test_support.h"

namespace llamarec {
namespace {

using ::llamarec::testing::TempDir;

LlamaConfig tiny_config(bool tied = false) {
  LlamaConfig c;
  c.vocab_size = 61;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 128;
  c.rms_norm_eps = 1e-5;
  c.tie_word_embeddings = tied;
  return c;
}

// A random model saved as a Hugging Face directory; returns the in-memory model too.
LlamaForCausalLM write_random_model(const std::filesystem::path& dir, const LlamaConfig& config, uint64_t seed) {
  LlamaForCausalLM model(config, torch::TensorOptions().dtype(torch::kFloat64));
  init_llama_random(*model, seed, 0.2);
  save_llama(*model, dir.string());
  return model;
}

// Sets every adapter to seeded non-zero values (B = 0 would hide gradient paths).
void randomise_lora(const std::map<std::string, torch::Tensor>& tensors, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  for (const auto& [name, t] : tensors)
    t.copy_(at::normal(0.0, 0.3, t.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat32)));
}

// Seeded non-zero adapters on the sharded model, copied into the plain one (same PEFT names).
void share_random_lora(const ShardedLlama& sharded, LlamaForCausalLMImpl& plain, uint64_t seed) {
  randomise_lora(sharded.lora_tensors(), seed);
  torch::NoGradGuard no_grad;
  auto plain_lora = lora_tensors(plain);
  for (const auto& [name, t] : sharded.lora_tensors()) plain_lora.at(name).copy_(t);
}

// Input ids [B, L] with the first `pad[b]` positions padded (mask 0).
std::pair<torch::Tensor, torch::Tensor> left_padded_batch(int64_t vocab, const std::vector<int64_t>& pad,
                                                          int64_t length, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  const auto b = static_cast<int64_t>(pad.size());
  auto ids = at::randint(1, vocab, {b, length}, gen, torch::TensorOptions().dtype(torch::kLong));
  auto mask = torch::ones({b, length}, torch::kLong);
  for (int64_t i = 0; i < b; ++i) {
    ids[i].narrow(0, 0, pad[i]).fill_(0);
    mask[i].narrow(0, 0, pad[i]).fill_(0);
  }
  return {ids, mask};
}

// What an nf4 ShardedLlama computes with: each layer's projection weights, concatenated in the
// unit's order and padded to whole groups, through NF4 and back. Written into `plain` in place.
void quantize_projections_like_fsdp(LlamaForCausalLMImpl& plain, const LlamaConfig& config) {
  torch::NoGradGuard no_grad;
  auto params = plain.named_parameters();
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    std::vector<torch::Tensor> weights;
    for (const auto& spec : llama_layer_tensor_specs(config))
      if (spec.shape.size() == 2) weights.push_back(params["model.layers." + std::to_string(i) + "." + spec.name]);
    std::vector<torch::Tensor> flat;
    for (const auto& w : weights) flat.push_back(w.reshape(-1).to(torch::kFloat32));
    auto all = torch::cat(flat);
    const int64_t padded = (all.numel() + kNf4GroupSize - 1) / kNf4GroupSize * kNf4GroupSize;
    all = torch::cat({all, torch::zeros({padded - all.numel()})});
    const auto back = dequantize_nf4(quantize_nf4(all));
    int64_t offset = 0;
    for (auto& w : weights) {
      w.copy_(back.narrow(0, offset, w.numel()).view(w.sizes()));
      offset += w.numel();
    }
  }
}

// Label-only loss at the last two positions, as the ranker computes it.
torch::Tensor last_two_loss(ShardedLlama& model, const torch::Tensor& ids, const torch::Tensor& mask) {
  const int64_t length = ids.size(1);
  const auto hidden = model.forward_hidden(ids, mask, true);
  const auto rows = hidden.narrow(1, length - 3, 2).reshape({-1, hidden.size(2)});
  const auto logits = model.logits(rows).to(torch::kFloat32);
  return torch::nn::functional::cross_entropy(logits, ids.narrow(1, length - 2, 2).reshape({-1}),
                                              torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

// The label-only loss of the last two positions and every LoRA gradient: plain autograd against the
// sharded model's recomputing backward (LoRA dropout off).
void expect_same_loss_and_lora_gradients(LlamaForCausalLMImpl& plain, ShardedLlama& sharded, const torch::Tensor& ids,
                                         const torch::Tensor& mask) {
  const int64_t length = ids.size(1);
  plain.train();
  const auto rows = plain.forward_hidden(ids, mask, nullptr, PositionMode::kArange).narrow(1, length - 3, 2);
  const auto loss_plain = torch::nn::functional::cross_entropy(
      plain.lm_head_at(rows).reshape({-1, sharded.config().vocab_size}), ids.narrow(1, length - 2, 2).reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  loss_plain.backward();
  const auto loss_sharded = last_two_loss(sharded, ids, mask);
  loss_sharded.backward();
  EXPECT_NEAR(loss_plain.item<double>(), loss_sharded.item<double>(), 1e-4);
  const auto plain_lora = lora_tensors(plain);
  for (const auto& [name, t] : sharded.lora_tensors()) {
    ASSERT_TRUE(t.grad().defined()) << name;
    const auto& ref = plain_lora.at(name).grad();
    EXPECT_LT((t.grad() - ref).abs().max().item<double>(), 1e-4 * (1 + ref.abs().max().item<double>())) << name;
  }
}

TEST(FsdpUnitMpi, ShardsCoverTheUnitAndGatherRestoresIt) {
  MpiCommunicator comm;
  const std::vector<TensorSpec> specs = {{"a", {5, 3}}, {"b", {7}}, {"c", {2, 2, 2}}};  // 30 elements
  std::map<std::string, torch::Tensor> full;
  for (const auto& s : specs) full[s.name] = torch::randn(s.shape, torch::kFloat64);
  for (auto& [n, t] : full) comm.broadcast(t, 0);
  FsdpUnit unit("test", specs, comm, torch::kFloat32, torch::kCPU);
  unit.load([&](const TensorSpec& spec, int64_t begin, int64_t end, torch::Dtype) {
    return full.at(spec.name).reshape(-1).slice(0, begin, end);
  });
  EXPECT_EQ(unit.numel(), 30);
  EXPECT_EQ(unit.shard_numel(), (30 + comm.size() - 1) / comm.size());
  EXPECT_EQ(unit.resident_bytes(), unit.shard_numel() * 4);
  const auto& views = unit.gather();
  ASSERT_EQ(views.size(), 3u);
  for (size_t i = 0; i < specs.size(); ++i)
    EXPECT_TRUE(torch::equal(views[i], full.at(specs[i].name).to(torch::kFloat32))) << specs[i].name;
  EXPECT_TRUE(unit.gathered());
  EXPECT_THROW(unit.gather(), Error);
  unit.release();
  EXPECT_FALSE(unit.gathered());
  EXPECT_EQ(unit.stats().gathers, 1);
  EXPECT_EQ(unit.stats().bytes_received, (comm.size() - 1) * unit.shard_numel() * 4);
}

TEST(FsdpUnitMpi, QuantizedTensorsGatherAsTheirNf4Values) {
  MpiCommunicator comm;
  const std::vector<TensorSpec> specs = {{"norm", {40}}, {"w1", {300, 64}}, {"w2", {64, 100}}};
  std::map<std::string, torch::Tensor> full;
  auto gen = at::detail::createCPUGenerator(3);
  for (const auto& s : specs) full[s.name] = at::normal(0.0, 0.05, s.shape, gen);
  // bf16 compute: the norm is read in bf16, the values to quantize in fp32.
  FsdpUnit unit("test", specs, comm, torch::kBFloat16, torch::kCPU, true, {false, true, true});
  unit.load([&](const TensorSpec& spec, int64_t begin, int64_t end, torch::Dtype dtype) {
    EXPECT_EQ(dtype, spec.name == "norm" ? torch::kBFloat16 : torch::kFloat32) << spec.name;
    return full.at(spec.name).reshape(-1).slice(0, begin, end).to(dtype);
  });
  // Whole groups of 16,384 per rank: 25,600 quantized values -> 2 groups at 1 rank, 1 each at 2.
  const int64_t per_rank = (25600 + kNf4GroupSize * comm.size() - 1) / (kNf4GroupSize * comm.size()) * kNf4GroupSize;
  EXPECT_EQ(unit.quantized_numel(), 25600);
  EXPECT_EQ(unit.resident_bytes(), (40 + comm.size() - 1) / comm.size() * 2 + nf4_packed_bytes(per_rank));
  // The reference: the quantized tensors as one flat buffer, quantized in one piece on one process.
  auto flat = torch::cat({full["w1"].reshape(-1), full["w2"].reshape(-1), torch::zeros({32768 - 25600})});
  const auto expected = dequantize_nf4(quantize_nf4(flat), torch::kBFloat16);
  const auto& views = unit.gather();
  EXPECT_TRUE(torch::equal(views[0], full["norm"].to(torch::kBFloat16)));
  EXPECT_TRUE(torch::equal(views[1], expected.narrow(0, 0, 19200).view({300, 64})));
  EXPECT_TRUE(torch::equal(views[2], expected.narrow(0, 19200, 6400).view({64, 100})));
  EXPECT_LT((views[1].to(torch::kFloat32) - full["w1"]).abs().max().item<double>(),
            0.2 * full["w1"].abs().max().item<double>());
  unit.release();
  EXPECT_EQ(unit.stats().bytes_received, (comm.size() - 1) * unit.resident_bytes());
  EXPECT_CONTAINS(
      testing::error_of([&] { FsdpUnit bad("bad", specs, comm, torch::kFloat32, torch::kCPU, true, {true}); }),
      "1 quantization flags for 3 tensors");
}

TEST(FsdpLlama, Nf4BaseEqualsThePlainModelOnDequantizedWeights) {
  MpiCommunicator comm;
  if (comm.size() != 1) GTEST_SKIP() << "single-process reference test";
  TempDir tmp;
  const auto config = tiny_config();
  auto plain = write_random_model(tmp / "m", config, 13);
  plain->to(torch::kFloat32);
  quantize_projections_like_fsdp(*plain, config);
  auto sharded =
      ShardedLlama::load((tmp / "m").string(), comm, torch::kFloat32, torch::kCPU, true, WeightQuantization::kNf4);
  // Resident: the root in fp32, per layer the norms in fp32 and the projections' codes and scales.
  int64_t expected = sharded->root_unit().resident_bytes();
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    EXPECT_EQ(sharded->layer_unit(i).quantized_numel(), 2 * config.hidden_size * config.hidden_size +
                                                            2 * config.hidden_size * 16 +
                                                            3 * config.hidden_size * config.intermediate_size);
    expected += 2 * config.hidden_size * 4 + nf4_packed_bytes(kNf4GroupSize);
  }
  EXPECT_EQ(sharded->resident_base_bytes(), expected);
  LoraConfig lora;
  lora.dropout = 0.0;
  apply_lora(*plain, lora);
  sharded->apply_lora(lora, 3);
  share_random_lora(*sharded, *plain, 5);
  const auto [ids, mask] = left_padded_batch(config.vocab_size, {0, 3, 5}, 9, 7);
  expect_same_loss_and_lora_gradients(*plain, *sharded, ids, mask);
}

TEST(FsdpLlama, EqualsThePlainModelInValuesAndLoraGradients) {
  MpiCommunicator comm;
  if (comm.size() != 1) GTEST_SKIP() << "single-process reference test";
  TempDir tmp;
  for (const bool tied : {false, true}) {
    const auto config = tiny_config(tied);
    auto plain = write_random_model(tmp / (tied ? "tied" : "untied"), config, 11);
    plain->to(torch::kFloat32);
    auto sharded = ShardedLlama::load((tmp / (tied ? "tied" : "untied")).string(), comm, torch::kFloat32, torch::kCPU);
    LoraConfig lora;
    lora.dropout = 0.0;
    apply_lora(*plain, lora);
    sharded->apply_lora(lora, 3);
    share_random_lora(*sharded, *plain, 5);
    const auto [ids, mask] = left_padded_batch(config.vocab_size, {0, 3, 5}, 9, 7);

    const auto h_plain = plain->forward_hidden(ids, mask, nullptr, PositionMode::kArange);
    const auto h_sharded = sharded->forward_hidden(ids, mask, false);
    // forward_hidden of the plain model is final-normed; the sharded one defers the norm to logits().
    const auto l_plain = plain->lm_head_at(h_plain.select(1, 8));
    const auto l_sharded = sharded->logits(h_sharded.select(1, 8));
    EXPECT_LT((l_plain - l_sharded).abs().max().item<double>(), 1e-5);
    const auto letters = torch::tensor({3, 9, 17}, torch::kLong);
    EXPECT_LT((sharded->logits(h_sharded.select(1, 8), letters) - l_plain.index_select(1, letters))
                  .abs()
                  .max()
                  .item<double>(),
              1e-5);

    // Gradients through the recomputing backward equal plain autograd's.
    expect_same_loss_and_lora_gradients(*plain, *sharded, ids, mask);
  }
}

TEST(FsdpLlama, RecomputeReplaysLoraDropout) {
  MpiCommunicator comm;
  if (comm.size() != 1) GTEST_SKIP() << "single-process reference test";
  TempDir tmp;
  const auto config = tiny_config();
  auto plain = write_random_model(tmp / "m", config, 21);
  plain->to(torch::kFloat32);
  auto sharded = ShardedLlama::load((tmp / "m").string(), comm, torch::kFloat32, torch::kCPU);
  LoraConfig lora;
  lora.dropout = 0.5;
  apply_lora(*plain, lora);
  sharded->apply_lora(lora, 3);
  share_random_lora(*sharded, *plain, 6);
  const auto [ids, mask] = left_padded_batch(config.vocab_size, {0, 2}, 8, 8);
  plain->train();
  torch::manual_seed(99);
  const auto rows = plain->forward_hidden(ids, mask, nullptr, PositionMode::kArange).narrow(1, 5, 2);
  const auto loss_plain = torch::nn::functional::cross_entropy(
      plain->lm_head_at(rows).reshape({-1, config.vocab_size}), ids.narrow(1, 6, 2).reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  loss_plain.backward();
  torch::manual_seed(99);
  const auto loss_sharded = last_two_loss(*sharded, ids, mask);
  // Draw in between: the recompute must restore the forward's generator state regardless.
  (void)torch::rand({1000});
  loss_sharded.backward();
  EXPECT_NEAR(loss_plain.item<double>(), loss_sharded.item<double>(), 1e-4);
  const auto plain_lora = lora_tensors(*plain);
  for (const auto& [name, t] : sharded->lora_tensors()) {
    const auto& ref = plain_lora.at(name).grad();
    EXPECT_LT((t.grad() - ref).abs().max().item<double>(), 1e-4 * (1 + ref.abs().max().item<double>())) << name;
  }
}

// 3 steps of sharded LoRA training on 2 ranks against one process on the whole batch.
void expect_sharded_training_equals_one_rank(WeightQuantization quantization) {
  MpiCommunicator comm;
  TempDir tmp;  // per rank; every rank writes the same model
  auto config = tiny_config();
  if (quantization == WeightQuantization::kNf4) {
    // 46,080 projection values per layer: at 2 ranks 2 groups of 16,384 on rank 0 and the rest
    // (with padding) on rank 1, so that both ranks hold real codes.
    config.hidden_size = 64;
    config.intermediate_size = 176;
  }
  auto plain = write_random_model(tmp / "m", config, 31);
  plain->to(torch::kFloat32);
  // With nf4 the one-process reference computes with the dequantized projections: the codes do
  // not depend on the number of ranks, so 2 ranks must still equal 1.
  if (quantization == WeightQuantization::kNf4) quantize_projections_like_fsdp(*plain, config);
  auto sharded = ShardedLlama::load((tmp / "m").string(), comm, torch::kFloat32, torch::kCPU, true, quantization);

  // Resident base weights: this rank's shards, about 1/N of the model (padding aside).
  const int64_t units = config.num_hidden_layers + 1;
  const int64_t total = sharded->total_base_bytes();
  if (quantization == WeightQuantization::kNone) {
    EXPECT_GE(sharded->resident_base_bytes() * comm.size(), total);
    EXPECT_LE(sharded->resident_base_bytes() * comm.size(), total + units * comm.size() * 4);
    EXPECT_LT(sharded->resident_base_bytes(), total * 0.55);
  } else {
    const int64_t group = kNf4GroupSize * comm.size();
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      const auto& unit = sharded->layer_unit(i);
      ASSERT_EQ(unit.quantized_numel(), 46080);
      const int64_t per_rank = (46080 + group - 1) / group * kNf4GroupSize;
      EXPECT_EQ(unit.gathered_bytes(), comm.size() * ((2 * config.hidden_size + comm.size() - 1) / comm.size() * 4 +
                                                      nf4_packed_bytes(per_rank)));
    }
  }

  LoraConfig lora;
  lora.dropout = 0.0;
  apply_lora(*plain, lora);
  sharded->apply_lora(lora, 3);
  share_random_lora(*sharded, *plain, 7);
  auto params = sharded->lora_parameters();
  DataParallel dp(comm, params);
  torch::optim::AdamW opt_sharded(params, torch::optim::AdamWOptions(1e-2));
  auto plain_params = lora_parameters(*plain);
  torch::optim::AdamW opt_plain(plain_params, torch::optim::AdamWOptions(1e-2));

  const int64_t global = 4, per_rank = global / comm.size();
  for (int step = 0; step < 3; ++step) {
    const auto [ids, mask] = left_padded_batch(config.vocab_size, {0, 1, 4, 2}, 10, 100 + step);
    // One rank, the whole global batch: the mean over label tokens.
    opt_plain.zero_grad();
    const auto rows = plain->forward_hidden(ids, mask, nullptr, PositionMode::kArange).narrow(1, 7, 2);
    const auto loss = torch::nn::functional::cross_entropy(
                          plain->lm_head_at(rows).reshape({-1, config.vocab_size}), ids.narrow(1, 8, 2).reshape({-1}),
                          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
                      (2.0 * global);
    loss.backward();
    opt_plain.step();
    // This rank's half, sharded weights, then one flat all-reduce.
    opt_sharded.zero_grad();
    const auto local_ids = ids.narrow(0, comm.rank() * per_rank, per_rank);
    const auto local_mask = mask.narrow(0, comm.rank() * per_rank, per_rank);
    auto local_loss = last_two_loss(*sharded, local_ids, local_mask);
    local_loss.backward();
    dp.all_reduce_gradients(2.0 * per_rank, local_loss.item<double>());
    opt_sharded.step();
  }
  const auto plain_lora = lora_tensors(*plain);
  for (const auto& [name, t] : sharded->lora_tensors())
    EXPECT_LT((t - plain_lora.at(name)).abs().max().item<double>(), 2e-5) << name;
  // Every layer was gathered twice (forward, recompute) and the root three times (embedding, head,
  // head recompute) per step.
  EXPECT_EQ(sharded->stats().gathers, 3 * (2 * config.num_hidden_layers + 3));
}

TEST(FsdpLlamaMultiRank, ShardedTrainingEqualsOneRankAndHoldsOneNthOfTheBase) {
  LLAMAREC_REQUIRE_WORLD(2);
  expect_sharded_training_equals_one_rank(WeightQuantization::kNone);
}

TEST(FsdpLlamaMultiRank, Nf4ShardedTrainingEqualsOneRank) {
  LLAMAREC_REQUIRE_WORLD(2);
  expect_sharded_training_equals_one_rank(WeightQuantization::kNf4);
}

// Prefetch changes when gathers start, nothing else: the same loss and LoRA gradients to the bit,
// the same number of gathers, and at most two units gathered at once (one without it). A prefetch
// that nothing consumes (a forward without the head) completes on the next gather or at the end.
TEST(FsdpLlamaMpi, PrefetchGivesTheSameStepWithAtMostTwoUnitsGathered) {
  for (const auto quantization : {WeightQuantization::kNone, WeightQuantization::kNf4}) {
    SCOPED_TRACE(quantization == WeightQuantization::kNf4 ? "nf4" : "fp32");
    MpiCommunicator comm;
    TempDir tmp;
    auto config = tiny_config();
    config.hidden_size = 64;
    config.intermediate_size = 176;
    write_random_model(tmp / "m", config, 41);
    // Not a structured binding: the lambdas below capture these (clang rejects capturing a binding in C++17).
    const auto batch = left_padded_batch(config.vocab_size, {0, 2, 1}, 10, 5);
    const auto& ids = batch.first;
    const auto& mask = batch.second;
    struct Result {
      torch::Tensor loss;
      std::vector<torch::Tensor> grads;
      int64_t gathers = 0;
      int64_t peak = 0;
    };
    // The most one unit can hold gathered: every rank's values in fp32 (padding included) plus all
    // that its all-gathers received (NF4's packed codes live until dequantized).
    int64_t largest_unit = 0;
    const auto footprint = [&](const FsdpUnit& unit) {
      return unit.shard_numel() * comm.size() * 4 + unit.gathered_bytes();
    };
    const auto run = [&](bool prefetch) {
      auto model = ShardedLlama::load((tmp / "m").string(), comm, torch::kFloat32, torch::kCPU, true, quantization);
      model->set_prefetch(prefetch);
      LoraConfig lora;
      lora.dropout = 0.1;  // the recompute replays dropout: prefetching must not disturb the generator
      model->apply_lora(lora, 3);
      randomise_lora(model->lora_tensors(), 9);
      {
        torch::NoGradGuard no_grad;
        model->forward_hidden(ids, mask, false);  // leaves the head's gather in flight when prefetching
      }
      EXPECT_EQ(model->root_unit().prefetching(), prefetch);
      model->reset_stats();
      torch::manual_seed(11);
      Result r;
      r.loss = last_two_loss(*model, ids, mask);
      r.loss.backward();
      for (const auto& p : model->lora_parameters()) r.grads.push_back(p.grad().clone());
      r.gathers = model->stats().gathers;
      r.peak = model->peak_gathered_bytes();
      for (int64_t i = 0; i < config.num_hidden_layers; ++i)
        largest_unit = std::max(largest_unit, footprint(model->layer_unit(i)));
      largest_unit = std::max(largest_unit, footprint(model->root_unit()));
      {
        torch::NoGradGuard no_grad;
        model->forward_hidden(ids, mask, false);  // the model goes with this prefetch in flight
      }
      return r;
    };
    const Result off = run(false), on = run(true);
    EXPECT_TRUE(torch::equal(off.loss, on.loss)) << off.loss.item<double>() << " vs " << on.loss.item<double>();
    ASSERT_EQ(off.grads.size(), on.grads.size());
    for (size_t i = 0; i < off.grads.size(); ++i) EXPECT_TRUE(torch::equal(off.grads[i], on.grads[i])) << i;
    EXPECT_EQ(off.gathers, on.gathers);
    EXPECT_LE(off.peak, largest_unit);
    EXPECT_GT(on.peak, off.peak);
    EXPECT_LE(on.peak, 2 * largest_unit);
  }
}

TEST(FsdpLlamaMpi, LoraLearnsAFixedBatch) {
  MpiCommunicator comm;
  TempDir tmp;
  const auto config = tiny_config();
  write_random_model(tmp / "m", config, 41);
  auto model = ShardedLlama::load((tmp / "m").string(), comm, torch::kFloat32, torch::kCPU);
  LoraConfig lora;
  lora.alpha = 16;
  model->apply_lora(lora, 1);
  auto params = model->lora_parameters();
  DataParallel dp(comm, params);
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(2e-2));
  const auto [ids, mask] = left_padded_batch(config.vocab_size, {0, 1, 2, 3}, 8, 5);
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    opt.zero_grad();
    auto loss = last_two_loss(*model, ids, mask);
    loss.backward();
    const auto totals = dp.all_reduce_gradients(8.0, loss.item<double>());
    opt.step();
    (step == 0 ? first : last) = totals.value / totals.weight;
  }
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
}

// GPU path (launch/gpu_check.sh runs Nccl*): the sharded model on CUDA over NCCL in bf16 agrees with
// the fp32 CPU model, and its LoRA gradients are finite. Skips without a GPU.
TEST(NcclFsdpLlama, CudaBf16MatchesCpuFp32) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto comm = make_communicator("nccl", torch::kCUDA);
  TempDir tmp;
  const auto config = tiny_config();
  write_random_model(tmp / "m", config, 51);
  MpiCommunicator cpu_comm;
  auto cpu = ShardedLlama::load((tmp / "m").string(), cpu_comm, torch::kFloat32, torch::kCPU);
  auto gpu = ShardedLlama::load((tmp / "m").string(), *comm, torch::kBFloat16, comm->device());
  LoraConfig lora;
  cpu->apply_lora(lora, 2);
  gpu->apply_lora(lora, 2);
  const auto [ids, mask] = left_padded_batch(config.vocab_size, {0, 2}, 8, 9);
  torch::Tensor ref, got;
  {
    torch::NoGradGuard no_grad;
    ref = cpu->logits(cpu->forward_hidden(ids, mask, false).select(1, 7));
    got = gpu->logits(gpu->forward_hidden(ids, mask, false).select(1, 7)).to(torch::kCPU, torch::kFloat32);
  }
  EXPECT_LT((ref - got).abs().max().item<double>(), 0.1 * (1 + ref.abs().max().item<double>()));
  auto loss = last_two_loss(*gpu, ids.to(comm->device()), mask.to(comm->device()));
  loss.backward();
  for (const auto& p : gpu->lora_parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
  }
}

TEST(FsdpLlama, CheckpointProblemsAreClearErrors) {
  MpiCommunicator comm;
  TempDir tmp;
  auto config = tiny_config();
  write_random_model(tmp / "m", config, 1);
  // A config that does not match the weights.
  config.intermediate_size = 40;
  std::ofstream(tmp / "m" / "config.json") << llama_config_to_json(config).dump(2);
  try {
    ShardedLlama::load((tmp / "m").string(), comm, torch::kFloat32, torch::kCPU);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mlp"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ShardedLlama::load((tmp / "missing").string(), comm, torch::kFloat32, torch::kCPU), Error);
}

}  // namespace
}  // namespace llamarec
