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

// Label-only loss at the last two positions, as the ranker computes it.
torch::Tensor last_two_loss(ShardedLlama& model, const torch::Tensor& ids, const torch::Tensor& mask) {
  const int64_t length = ids.size(1);
  const auto hidden = model.forward_hidden(ids, mask, true);
  const auto rows = hidden.narrow(1, length - 3, 2).reshape({-1, hidden.size(2)});
  const auto logits = model.logits(rows).to(torch::kFloat32);
  return torch::nn::functional::cross_entropy(logits, ids.narrow(1, length - 2, 2).reshape({-1}),
                                              torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

TEST(FsdpUnitMpi, ShardsCoverTheUnitAndGatherRestoresIt) {
  MpiCommunicator comm;
  const std::vector<TensorSpec> specs = {{"a", {5, 3}}, {"b", {7}}, {"c", {2, 2, 2}}};  // 30 elements
  std::map<std::string, torch::Tensor> full;
  for (const auto& s : specs) full[s.name] = torch::randn(s.shape, torch::kFloat64);
  for (auto& [n, t] : full) comm.broadcast(t, 0);
  FsdpUnit unit("test", specs, comm, torch::kFloat32, torch::kCPU);
  unit.load([&](const TensorSpec& spec, int64_t begin, int64_t end) {
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
    plain->train();
    const auto rows_plain = plain->forward_hidden(ids, mask, nullptr, PositionMode::kArange).narrow(1, 6, 2);
    const auto loss_plain = torch::nn::functional::cross_entropy(
        plain->lm_head_at(rows_plain).reshape({-1, config.vocab_size}), ids.narrow(1, 7, 2).reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    loss_plain.backward();
    const auto loss_sharded = last_two_loss(*sharded, ids, mask);
    loss_sharded.backward();
    EXPECT_NEAR(loss_plain.item<double>(), loss_sharded.item<double>(), 1e-4);
    const auto plain_lora = lora_tensors(*plain);
    for (const auto& [name, t] : sharded->lora_tensors()) {
      ASSERT_TRUE(t.grad().defined()) << name;
      const auto& ref = plain_lora.at(name).grad();
      EXPECT_LT((t.grad() - ref).abs().max().item<double>(), 1e-4 * (1 + ref.abs().max().item<double>())) << name;
    }
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

TEST(FsdpLlamaMultiRank, ShardedTrainingEqualsOneRankAndHoldsOneNthOfTheBase) {
  LLAMAREC_REQUIRE_WORLD(2);
  MpiCommunicator comm;
  TempDir tmp;  // per rank; every rank writes the same model
  const auto config = tiny_config();
  auto plain = write_random_model(tmp / "m", config, 31);
  plain->to(torch::kFloat32);
  auto sharded = ShardedLlama::load((tmp / "m").string(), comm, torch::kFloat32, torch::kCPU);

  // Resident base weights: this rank's shards, about 1/N of the model (padding aside).
  const int64_t units = config.num_hidden_layers + 1;
  const int64_t total = sharded->total_base_bytes();
  EXPECT_GE(sharded->resident_base_bytes() * comm.size(), total);
  EXPECT_LE(sharded->resident_base_bytes() * comm.size(), total + units * comm.size() * 4);
  EXPECT_LT(sharded->resident_base_bytes(), total * 0.55);

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
